import HAVPNModel
import HAVPNPlanner
import Testing

/// The packet filter and NAT: what each role declares, and how the planner diffs, prunes and
/// repairs havpn's chains (fixture triples: observed, desired, expected actions).
struct RulesetPlanTests {
    static func ruleset(_ role: Role, _ edit: (inout Topology) -> Void = { _ in }) -> Ruleset {
        var t = Topology()
        edit(&t)
        return Planner.desiredRuleset(topology: t, role: role)
    }

    static func names(_ r: Ruleset, _ chain: RulesetChain) -> [String] { r.rules(in: chain).map(\.name) }

    @Test func apiserverDropsWhatTheShootOpensAndKeepsRepliesProbesAndTheTransport() {
        let r = Self.ruleset(.apiserver)
        #expect(Set(r.rules.map(\.chain)) == [.input])
        #expect(
            Self.names(r, .input) == [
                "bond0-ipip", "bond0-ip6ip6", "bond0-replies", "bond0-icmpv6", "bond0-drop",
                "bond0-ip6tnl+-replies", "bond0-ip6tnl+-icmpv6", "bond0-ip6tnl+-drop",
            ]
        )
        #expect(
            r.rules.last
                == FirewallRule(
                    .input,
                    "bond0-ip6tnl+-drop",
                    interface: .init(.incoming, "bond0-ip6tnl", isPrefix: true),
                    verdict: .drop
                )
        )
        #expect(r.notes.isEmpty)
    }

    @Test func shootForwardsClampsAndMasqueradesOutOfTheUplink() {
        let r = Self.ruleset(.shoot) { $0.nat.uplink = "net1" }
        #expect(Self.names(r, .forward) == ["bond0-forward", "bond0ip6tnl+-forward"])
        #expect(
            r.rules(in: .mss) == [
                FirewallRule(.mss, "mss-clamp", interface: nil, match: .tcpSyn, verdict: .clampMSSToPMTU)
            ]
        )
        #expect(
            r.rules(in: .masquerade) == [
                FirewallRule(.masquerade, "net1-masquerade", interface: .init(.outgoing, "net1"), verdict: .masquerade)
            ]
        )
        #expect(r.rules(in: .input).isEmpty)
    }

    @Test func serverFiltersItsVpnDevices() {
        let r = Self.ruleset(.server)
        #expect(Self.names(r, .input) == ["tap+-replies", "tap+-icmpv6", "tap+-drop"])
    }

    @Test func turningAPieceOffIsSaidInThePlan() {
        let r = Self.ruleset(.shoot) {
            $0.nat.masquerade = false; $0.nat.mssClamp = false
        }
        #expect(r.rules(in: .masquerade).isEmpty && r.rules(in: .mss).isEmpty)
        let plan = Planner.plan(desired: DesiredState(ruleset: r), observed: ObservedState())
        #expect(plan.notes.count == 2)
        #expect(PlanRenderer.human(plan).contains("# masquerade off (nat.masquerade: false)"))
        #expect(PlanRenderer.json(plan).contains("\"notes\":[\"TCP MSS clamp off"))
        let api = Self.ruleset(.apiserver) { $0.filter.input = false }
        #expect(api.rules.isEmpty && api.notes.count == 1)
    }

    @Test func anIdChangesWithTheContentOfItsRule() {
        let a = Self.ruleset(.shoot).rules(in: .masquerade)[0]
        var b = a
        b.interface = .init(.outgoing, "eth1")
        b.name = a.name
        #expect(a.id != b.id)
        #expect(a.id.hasPrefix("havpn:eth0-masquerade:") && a.id.count == "havpn:eth0-masquerade:".count + 8)
        #expect(Self.ruleset(.shoot) == Self.ruleset(.shoot), "deterministic")
    }

    // MARK: - Fixture triples

    struct Triple: CustomTestStringConvertible {
        var name: String
        var observed: [RulesetChain: [String]]
        var desired: Ruleset?
        var expected: [PlanAction]
        var testDescription: String { name }
    }

    static let shoot = ruleset(.shoot)
    static let fp = shoot.fingerprint
    static let triples: [Triple] = [
        Triple(
            name: "nothing → every chain created",
            observed: [:],
            desired: shoot,
            expected: [
                .setRulesetChain(.forward, from: [], to: fp[.forward]!),
                .setRulesetChain(.mss, from: [], to: fp[.mss]!),
                .setRulesetChain(.masquerade, from: [], to: fp[.masquerade]!),
            ]
        ),
        Triple(name: "converged → nothing", observed: fp, desired: shoot, expected: []),
        Triple(
            name: "a chain flushed by hand is re-created",
            observed: fp.filter { $0.key != .mss },
            desired: shoot,
            expected: [.setRulesetChain(.mss, from: [], to: fp[.mss]!)]
        ),
        Triple(
            name: "a rule added by hand is drift",
            observed: fp.merging([.forward: fp[.forward]! + ["unowned-rule"]]) { $1 },
            desired: shoot,
            expected: [.setRulesetChain(.forward, from: fp[.forward]! + ["unowned-rule"], to: fp[.forward]!)]
        ),
        Triple(
            name: "a chain no longer declared is pruned",
            observed: fp.merging([.input: ["havpn:old:00000000"]]) { $1 },
            desired: shoot,
            expected: [.setRulesetChain(.input, from: ["havpn:old:00000000"], to: [])]
        ),
        Triple(
            name: "an unmanaged ruleset (nil) is never touched",
            observed: [.input: ["havpn:old:00000000"]],
            desired: nil,
            expected: []
        ),
    ]

    @Test(arguments: triples)
    func fixture(_ t: Triple) {
        let plan = Planner.plan(
            desired: DesiredState(ruleset: t.desired),
            observed: ObservedState(ruleset: ObservedRuleset(chains: t.observed))
        )
        #expect(plan.actions == t.expected)
        let after = Planner.simulate(plan, on: ObservedState(ruleset: ObservedRuleset(chains: t.observed)))
        #expect(Planner.plan(desired: DesiredState(ruleset: t.desired), observed: after).isEmpty, "idempotent")
        if let desired = t.desired { #expect(after.ruleset.chains == desired.fingerprint, "converges") }
    }

    @Test func theRulesetComesAfterEveryNetlinkAction() throws {
        let desired = Fx.shoot(peers: [Fx.peer(1, "10.0.0.1")])
        let actions = Planner.plan(desired: desired, observed: ObservedState()).actions
        let firstRulesetAction = actions.firstIndex { $0.isRulesetChange }
        let first = try #require(firstRulesetAction, "no ruleset action: \(actions)")
        #expect(actions[first...].allSatisfy { $0.isRulesetChange })
        #expect(actions[..<first].allSatisfy { !$0.isRulesetChange })
    }

    @Test func renderedLines() throws {
        let mss = try #require(Self.fp[.mss])
        let add = PlanAction.setRulesetChain(.mss, from: [], to: mss)
        #expect(PlanRenderer.line(add) == "+ ruleset chain mss (mss-clamp)")
        #expect(
            PlanRenderer.line(.setRulesetChain(.mss, from: mss, to: [])) == "- ruleset chain mss (mss-clamp)"
        )
        #expect(
            PlanRenderer.line(.setRulesetChain(.mss, from: ["unowned-rule"], to: mss))
                == "~ ruleset chain mss: unowned-rule → mss-clamp"
        )
        let json = PlanRenderer.json(Plan(actions: [add]))
        #expect(
            json.contains(
                "{\"op\":\"create\",\"object\":\"ruleset-chain\",\"chain\":\"mss\",\"from\":[],\"to\":[\"havpn:mss-clamp:"
            )
        )
        #expect(Plan(actions: [add]).summary == PlanSummary(add: 1))
    }
}
