import Testing

@Suite struct HAVPNModelTestsSmoke {
    @Test func builds() { #expect(Bool(true)) }
}
