import Testing

@Suite struct HAVPNOpenVPNTestsSmoke {
    @Test func builds() { #expect(Bool(true)) }
}
