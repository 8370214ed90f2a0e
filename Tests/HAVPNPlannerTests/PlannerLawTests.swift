import HAVPNModel
import HAVPNPlanner
import PropertyBased
import Testing

@Suite struct PlannerLawTests {
    static let iterations = 1000

    @Test func converges() async {
        await propertyCheck(count: Self.iterations, input: Scenario.generator) { s in
            let plan = Planner.plan(desired: s.desired, observed: s.observed)
            let after = Planner.simulate(plan, on: s.observed)
            let violations = Laws.convergence(desired: s.desired, plan: plan, final: after)
            #expect(violations.isEmpty, "\(s)\n\(violations)\n\(PlanRenderer.human(plan))")
        }
    }

    @Test func isIdempotent() async {
        await propertyCheck(count: Self.iterations, input: Scenario.generator) { s in
            let plan = Planner.plan(desired: s.desired, observed: s.observed)
            let after = Planner.simulate(plan, on: s.observed)
            let again = Planner.plan(desired: s.desired, observed: after)
            #expect(
                again.actions.isEmpty,
                "\(s)\nfirst:\n\(PlanRenderer.human(plan))second:\n\(PlanRenderer.human(again))"
            )
            #expect(again.conflicts.map(\.description) == plan.conflicts.map(\.description))
        }
    }

    @Test func neverTouchesForeignObjects() async {
        await propertyCheck(count: Self.iterations, input: Scenario.generator) { s in
            let plan = Planner.plan(desired: s.desired, observed: s.observed)
            let violations = Laws.ownership(plan, desired: s.desired, observed: s.observed)
            #expect(violations.isEmpty, "\(s)\n\(violations)\n\(PlanRenderer.human(plan))")
        }
    }

    @Test func ordersPrerequisitesFirst() async {
        await propertyCheck(count: Self.iterations, input: Scenario.generator) { s in
            let plan = Planner.plan(desired: s.desired, observed: s.observed)
            let violations = Laws.ordering(plan, on: s.observed)
            #expect(violations.isEmpty, "\(s)\n\(violations)\n\(PlanRenderer.human(plan))")
        }
    }

    @Test func isDeterministic() async {
        await propertyCheck(count: Self.iterations, input: Scenario.generator) { s in
            let plan = Planner.plan(desired: s.desired, observed: s.observed)
            var rng = SplitMix(state: s.seed ^ 0x5eed)
            for _ in 0..<3 {
                let other = Planner.plan(desired: s.desired, observed: Scenario.shuffled(s.observed, rng: &rng))
                #expect(other.actions == plan.actions, "\(s)")
                #expect(PlanRenderer.json(other) == PlanRenderer.json(plan))
            }
        }
    }

    @Test func emptyPlanOnConvergedState() async {
        await propertyCheck(count: Self.iterations, input: Scenario.generator) { s in
            let converged = Planner.simulate(
                Planner.plan(desired: s.desired, observed: ObservedState()),
                on: ObservedState()
            )
            let plan = Planner.plan(desired: s.desired, observed: converged)
            #expect(plan.actions.isEmpty && plan.conflicts.isEmpty, "\(s)\n\(PlanRenderer.human(plan))")
        }
    }
}
