import HAVPNModel
import HAVPNPlanner
import Testing

/// Single mode NETMAPs IPv4 always, as vpn2's non-HA tunnel (`values.go` `doNetmap = true`): the server's
/// rules are vpn2's `pkg/vpn_server/iptables.go` (proxy group → stand-in) and its firewall hook's 241/8
/// pair on tun0 (`cmd/vpn_server/app/firewall.go`); vpn-shoot's are `pkg/vpn_client/iptables.go` on tun0.
@Suite struct SingleModeNetmapTests {
    static func net(_ s: String) -> IPNetwork { IPNetwork(s)! }

    /// The seed pods overlap the shoot pods: accepted in single mode now, as in HA.
    static let overlapping: Topology = {
        var t = Single.topology
        t.networks.shoot.pods = [net("10.1.0.0/16")]
        return t
    }()

    static func netmap(_ chain: RulesetChain, _ name: String, _ device: String?, _ from: String, _ to: String)
        -> FirewallRule
    {
        switch chain {
        case .netmapOutput:
            FirewallRule(
                chain,
                name,
                interface: nil,
                destination: net(from),
                socketGroup: 31415,
                verdict: .netmap,
                netmapTo: net(to)
            )
        case .netmapPrerouting:
            FirewallRule(
                chain,
                name,
                interface: .init(.incoming, device!),
                destination: net(from),
                verdict: .netmap,
                netmapTo: net(to)
            )
        default:
            FirewallRule(
                chain,
                name,
                interface: .init(.outgoing, device!),
                source: net(from),
                verdict: .netmap,
                netmapTo: net(to)
            )
        }
    }

    /// The shoot networks of ``Single/topology``: nodes 10.250/16, services 100.64/13, pods 100.96/11.
    static let serverRules: [FirewallRule] = [
        netmap(.netmapPrerouting, "241.1.0.0/16-to-10.1.0.0/16", "tun0", "241.1.0.0/16", "10.1.0.0/16"),
        netmap(.netmapOutput, "10.250.0.0/16-to-242.0.0.0/16", nil, "10.250.0.0/16", "242.0.0.0/16"),
        netmap(.netmapOutput, "100.64.0.0/13-to-243.0.0.0/13", nil, "100.64.0.0/13", "243.0.0.0/13"),
        netmap(.netmapOutput, "100.96.0.0/11-to-244.0.0.0/11", nil, "100.96.0.0/11", "244.0.0.0/11"),
        netmap(.netmapPostrouting, "10.1.0.0/16-to-241.1.0.0/16", "tun0", "10.1.0.0/16", "241.1.0.0/16"),
    ]

    @Test func serverMapsTheProxysConnectionsAndItsSourceOnTun0() throws {
        let d = try Single.desired(.server)
        let rules = try #require(d.ruleset).rules.filter { $0.verdict == .netmap }
        #expect(rules == Self.serverRules)
        #expect(d.routes.map(\.destination) == Single.standIns)
        let ruleset = try #require(d.ruleset)
        #expect(ruleset.notes.contains { $0.hasPrefix("NETMAP on (single mode maps IPv4 always, as vpn2)") })
    }

    @Test func shootTranslatesTheStandInsOnTun0AndRoutes241() throws {
        let d = try Single.desired(.shoot)
        let rules = try #require(d.ruleset).rules.filter { $0.verdict == .netmap }
        #expect(
            rules == [
                Self.netmap(
                    .netmapPrerouting,
                    "242.0.0.0/16-to-10.250.0.0/16",
                    "tun0",
                    "242.0.0.0/16",
                    "10.250.0.0/16"
                ),
                Self.netmap(
                    .netmapPrerouting,
                    "243.0.0.0/13-to-100.64.0.0/13",
                    "tun0",
                    "243.0.0.0/13",
                    "100.64.0.0/13"
                ),
                Self.netmap(
                    .netmapPrerouting,
                    "244.0.0.0/11-to-100.96.0.0/11",
                    "tun0",
                    "244.0.0.0/11",
                    "100.96.0.0/11"
                ),
                Self.netmap(
                    .netmapPostrouting,
                    "10.250.0.0/16-to-242.0.0.0/16",
                    "tun0",
                    "10.250.0.0/16",
                    "242.0.0.0/16"
                ),
                Self.netmap(
                    .netmapPostrouting,
                    "100.64.0.0/13-to-243.0.0.0/13",
                    "tun0",
                    "100.64.0.0/13",
                    "243.0.0.0/13"
                ),
                Self.netmap(
                    .netmapPostrouting,
                    "100.96.0.0/11-to-244.0.0.0/11",
                    "tun0",
                    "100.96.0.0/11",
                    "244.0.0.0/11"
                ),
            ]
        )
        #expect(d.routes == [Single.route(Self.net("241.0.0.0/8"))])
    }

    @Test func anOverlapIsPlannedAsInHA() throws {
        let d = try Single.desired(.server, Self.overlapping)
        #expect(d.routes.map(\.destination) == Single.standIns)
        #expect(!d.routes.contains { $0.destination == Self.net("10.1.0.0/16") })
        let output = try #require(d.ruleset).rules.filter { $0.chain == .netmapOutput }
        #expect(
            output.contains { $0.destination == Self.net("10.1.0.0/16") && $0.netmapTo == Self.net("244.0.0.0/16") }
        )
    }

    /// IPv6 is never mapped: routed as it is, and no IPv6 rule.
    @Test func ipv6IsRoutedAsItIs() throws {
        var t = Single.topology
        t.ipFamilies = [.ipv4, .ipv6]
        t.networks.shoot.pods.append(Self.net("fd00:10::/56"))
        t.networks.seedPods.append(Self.net("fd00:1::/56"))
        let server = try Single.desired(.server, t)
        #expect(server.routes.map(\.destination).contains(Self.net("fd00:10::/56")))
        let serverRuleset = try #require(server.ruleset)
        #expect(serverRuleset.rules.filter { $0.verdict == .netmap }.allSatisfy { $0.addressFamily == .ipv4 })
        let shoot = try Single.desired(.shoot, t)
        #expect(shoot.routes.map(\.destination) == [Self.net("241.0.0.0/8"), Self.net("fd00:1::/56")])
    }

    /// Fixture triples (observed, desired, expected plan): tun0 up in an empty namespace.
    @Test(arguments: [Role.server, .shoot])
    func fromEmptyWithTun0UpTheRoutesAndNetmapChainsAreAdded(role: Role) throws {
        let d = try Single.desired(role)
        let observed = ObservedState(links: [Single.tun0()])
        let plan = Planner.plan(desired: d, observed: observed)
        let routes = plan.actions.compactMap { if case .addRoute(let r) = $0 { r.destination } else { nil } }
        #expect(routes == (role == .server ? Single.standIns : [Self.net("241.0.0.0/8")]))
        let chains = plan.actions.compactMap { if case .setRulesetChain(let c, _, _) = $0 { c } else { nil } }
        let expected: [RulesetChain] =
            role == .server
            ? [.input, .netmapPrerouting, .netmapOutput, .netmapPostrouting]
            : [.forward, .mss, .masquerade, .netmapPrerouting, .netmapPostrouting]
        #expect(Set(chains) == Set(expected))
        let after = Planner.simulate(plan, on: observed)
        #expect(Planner.plan(desired: d, observed: after).actions.isEmpty)
    }

    /// HA keeps vpn2's HA rule: no overlap, no NETMAP.
    @Test func haWithoutOverlapMapsNothing() {
        var t = Single.topology
        t.mode = .ha
        #expect(!t.netmap.isActive)
        t.mode = .single
        #expect(t.netmap.isActive)
    }
}
