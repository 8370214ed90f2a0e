import Testing

@Suite struct HAVPNServiceTestsSmoke {
    @Test func builds() { #expect(Bool(true)) }
}
