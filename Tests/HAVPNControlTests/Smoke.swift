import Testing

@Suite struct HAVPNControlTestsSmoke {
    @Test func builds() { #expect(Bool(true)) }
}
