import Testing

@Suite struct HAVPNKernelTestsSmoke {
    @Test func builds() { #expect(Bool(true)) }
}
