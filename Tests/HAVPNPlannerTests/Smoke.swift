import Testing

@Suite struct HAVPNPlannerTestsSmoke {
    @Test func builds() { #expect(Bool(true)) }
}
