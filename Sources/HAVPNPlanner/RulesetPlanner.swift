import HAVPNModel

extension Planner {
    /// One action per owned chain whose rule ids differ from the desired ones, in chain order.
    ///
    /// Ownership: only havpn's chains are observed (the `inet havpn` table, or the `HAVPN-` chains
    /// and their jumps), so nothing here can name a foreign table, chain or rule. A chain the
    /// desired ruleset no longer has is removed (pruned); one emptied or edited by hand is drift.
    static func planRuleset(_ desired: Ruleset, observed: ObservedRuleset) -> [PlanAction] {
        let want = desired.fingerprint
        var actions: [PlanAction] = []
        for chain in RulesetChain.allCases {
            let to = want[chain] ?? []
            let from = observed.chains[chain] ?? []
            if from != to { actions.append(.setRulesetChain(chain, from: from, to: to)) }
        }
        return actions
    }
}
