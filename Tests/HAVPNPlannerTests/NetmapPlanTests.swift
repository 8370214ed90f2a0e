import HAVPNModel
import HAVPNPlanner
import Testing

/// NETMAP rules and routes when seed and shoot networks overlap (vpn2 `pkg/vpn_client/iptables.go`).
struct NetmapPlanTests {
    /// Shoot pods 10.0.0.0/16 overlap the seed pods; services and nodes do not, but are mapped too (vpn2).
    static let overlapping: Topology = {
        var t = Topology()
        t.networks.shoot.pods = [IPNetwork("10.0.0.0/16")!]
        t.networks.shoot.services = [IPNetwork("10.96.0.0/16")!]
        t.networks.shoot.nodes = [IPNetwork("10.250.0.0/16")!]
        t.networks.seedPods = [IPNetwork("10.0.0.0/16")!]
        t.apiservers = [Topology.ApiserverInstance(index: 1, podIPs: [IPAddress("10.0.3.7")!])]
        return t
    }()

    static func net(_ s: String) -> IPNetwork { IPNetwork(s)! }

    @Test func apiserverTranslatesTheProxysDestinationsAndItsOwnSource() {
        let r = Planner.desiredRuleset(topology: Self.overlapping, role: .apiserver)
        #expect(
            r.rules(in: .netmapOutput)
                == [
                    ("10.250.0.0/16", "242.0.0.0/16"), ("10.96.0.0/16", "243.0.0.0/16"),
                    ("10.0.0.0/16", "244.0.0.0/16"),
                ].map { real, mapped in
                    FirewallRule(
                        .netmapOutput,
                        "\(real)-to-\(mapped)",
                        interface: nil,
                        destination: Self.net(real),
                        socketGroup: 31415,
                        verdict: .netmap,
                        netmapTo: Self.net(mapped)
                    )
                }
        )
        let tunnels = "bond0-ip6tnl"
        #expect(
            r.rules(in: .netmapPrerouting) == [
                FirewallRule(
                    .netmapPrerouting,
                    "241.0.0.0/16-to-10.0.0.0/16",
                    interface: .init(.incoming, tunnels, isPrefix: true),
                    destination: Self.net("241.0.0.0/16"),
                    verdict: .netmap,
                    netmapTo: Self.net("10.0.0.0/16")
                )
            ]
        )
        #expect(
            r.rules(in: .netmapPostrouting) == [
                FirewallRule(
                    .netmapPostrouting,
                    "10.0.0.0/16-to-241.0.0.0/16",
                    interface: .init(.outgoing, tunnels, isPrefix: true),
                    source: Self.net("10.0.0.0/16"),
                    verdict: .netmap,
                    netmapTo: Self.net("241.0.0.0/16")
                )
            ]
        )
        #expect(r.rules.map(\.chain) == r.rules.map(\.chain).sorted(), "chain order")
    }

    @Test func shootTranslatesStandInsBackAndItsSourcesOut() {
        let r = Planner.desiredRuleset(topology: Self.overlapping, role: .shoot)
        #expect(r.rules(in: .netmapOutput).isEmpty)
        #expect(
            r.rules(in: .netmapPrerouting).map { "\($0.interface!.name)* \($0.destination!) → \($0.netmapTo!)" } == [
                "bond0ip6tnl* 242.0.0.0/16 → 10.250.0.0/16", "bond0ip6tnl* 243.0.0.0/16 → 10.96.0.0/16",
                "bond0ip6tnl* 244.0.0.0/16 → 10.0.0.0/16",
            ]
        )
        #expect(
            r.rules(in: .netmapPostrouting).map { "\($0.interface!.direction) \($0.source!) → \($0.netmapTo!)" } == [
                "outgoing 10.250.0.0/16 → 242.0.0.0/16", "outgoing 10.96.0.0/16 → 243.0.0.0/16",
                "outgoing 10.0.0.0/16 → 244.0.0.0/16",
            ]
        )
        #expect(r.rules(in: .masquerade).count == 1, "the masquerade out of the uplink stays")
    }

    @Test func noOverlapNoNetmapAndServersNeverNetmap() {
        var plain = Self.overlapping
        plain.networks.seedPods = [Self.net("10.1.0.0/16")]
        for role in Role.allCases {
            #expect(Planner.desiredRuleset(topology: plain, role: role).rules.allSatisfy { $0.verdict != .netmap })
        }
        #expect(
            Planner.desiredRuleset(topology: Self.overlapping, role: .server).rules.allSatisfy { $0.verdict != .netmap }
        )
    }

    @Test func apiserverRoutesTheStandInsAndShootRoutesTheMappedPodIP() throws {
        let api = try Planner.desiredState(
            topology: Self.overlapping,
            identity: Identity(role: .apiserver, index: 1),
            inputs: ControllerInputs(activeShootClient: 0)
        )
        #expect(api.routes.map(\.destination.description).sorted() == ["242.0.0.0/16", "243.0.0.0/16", "244.0.0.0/16"])
        let shoot = try Planner.desiredState(
            topology: Self.overlapping,
            identity: Identity(role: .shoot, index: 0),
            inputs: ControllerInputs(
                activeShootClient: 0,
                apiserverPeers: [
                    // Announced by vpn2 (already mapped) and by havpn unmapped: both end up in 241/8.
                    ApiserverPeer(
                        bondAddress: AddressPlan(topology: Self.overlapping).apiserverBondAddress(2),
                        podIPs: [IPAddress("241.0.9.9")!, IPAddress("10.0.4.4")!]
                    )
                ]
            )
        )
        #expect(
            shoot.routes.map(\.destination.description).sorted() == ["241.0.3.7/32", "241.0.4.4/32", "241.0.9.9/32"]
        )
    }

    // MARK: - Fixture triples (observed chains, desired, expected actions)

    @Test func fixtureTriples() throws {
        let desired = Planner.desiredRuleset(topology: Self.overlapping, role: .shoot)
        let fp = desired.fingerprint
        func chain(_ c: RulesetChain) throws -> [String] { try #require(fp[c], "no \(c) chain in \(fp.keys)") }
        let triples: [(String, [RulesetChain: [String]], [PlanAction])] = [
            (
                "nothing → NETMAP chains created with the rest",
                [:],
                [
                    .setRulesetChain(.forward, from: [], to: try chain(.forward)),
                    .setRulesetChain(.mss, from: [], to: try chain(.mss)),
                    .setRulesetChain(.masquerade, from: [], to: try chain(.masquerade)),
                    .setRulesetChain(.netmapPrerouting, from: [], to: try chain(.netmapPrerouting)),
                    .setRulesetChain(.netmapPostrouting, from: [], to: try chain(.netmapPostrouting)),
                ]
            ),
            ("converged → nothing", fp, []),
            (
                "NETMAP chain flushed by hand → re-created",
                fp.filter { $0.key != .netmapPrerouting },
                [.setRulesetChain(.netmapPrerouting, from: [], to: try chain(.netmapPrerouting))]
            ),
            (
                "overlap gone from the topology → NETMAP chains pruned",
                fp.merging([.netmapOutput: ["havpn:old:00000000"]]) { $1 },
                [.setRulesetChain(.netmapOutput, from: ["havpn:old:00000000"], to: [])]
            ),
        ]
        for (name, observed, expected) in triples {
            let before = ObservedState(ruleset: ObservedRuleset(chains: observed))
            let plan = Planner.plan(desired: DesiredState(ruleset: desired), observed: before)
            #expect(plan.actions == expected, "\(name)")
            let after = Planner.simulate(plan, on: before)
            #expect(after.ruleset.chains == fp, "\(name): converges")
            #expect(
                Planner.plan(desired: DesiredState(ruleset: desired), observed: after).isEmpty,
                "\(name): idempotent"
            )
        }
    }

    @Test func renderedPlanNamesTheMappings() throws {
        let desired = Planner.desiredRuleset(topology: Self.overlapping, role: .apiserver)
        let postrouting = try #require(desired.fingerprint[.netmapPostrouting])
        let line = PlanRenderer.line(.setRulesetChain(.netmapPostrouting, from: [], to: postrouting))
        #expect(line == "+ ruleset chain netmap-postrouting (10.0.0.0/16-to-241.0.0.0/16)")
        let plan = Planner.plan(desired: DesiredState(ruleset: desired), observed: ObservedState())
        #expect(
            PlanRenderer.human(plan).contains(
                "# NETMAP on (seed and shoot networks overlap): 10.0.0.0/16 as 241.0.0.0/16, "
                    + "10.250.0.0/16 as 242.0.0.0/16, 10.96.0.0/16 as 243.0.0.0/16, 10.0.0.0/16 as 244.0.0.0/16"
            )
        )
        #expect(Planner.desiredRuleset(topology: Self.overlapping, role: .server).notes.isEmpty)
        #expect(Planner.desiredRuleset(topology: Topology(), role: .shoot).notes.isEmpty)
    }
}
