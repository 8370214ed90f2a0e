import HAVPNModel

extension Planner {
    /// vpn2's NETMAP rules (vpn2 `pkg/vpn_client/iptables.go` `SetIPTableRules`), when the topology's
    /// seed and shoot networks overlap (see ``Netmap``); none otherwise.
    ///
    /// - apiserver: the proxy's sockets (group 31415) dialling a real shoot address get the stand-in as
    ///   destination (nat OUTPUT), which the routes send through the tunnel; seed pod sources leaving
    ///   through a tunnel become 241/8 (nat POSTROUTING), and 241/8 arriving from one becomes the seed pod
    ///   again (nat PREROUTING). Replies are translated back by conntrack.
    /// - shoot: a stand-in arriving from a tunnel becomes the real shoot address (nat PREROUTING), and a
    ///   shoot source leaving through a tunnel becomes its stand-in (nat POSTROUTING).
    ///
    /// vpn2 matches `bond0+`; the translated traffic is IPv4 inside the ip6tnl devices only (the bond
    /// carries the IPv6 transport), so havpn matches the tunnel devices of the role.
    /// Said in the plan, so that routes to 241-244/8 and the translated addresses are never a surprise.
    static func netmapNote(topology: Topology, role: Role) -> String? {
        let netmap = topology.netmap
        guard netmap.isActive, role != .server else { return nil }
        let pairs = netmap.mappings.map { "\($0.real) as \($0.mapped)" }.joined(separator: ", ")
        return "NETMAP on (seed and shoot networks overlap): \(pairs)"
    }

    static func netmapRules(topology: Topology, role: Role) -> [FirewallRule] {
        let netmap = topology.netmap
        guard netmap.isActive else { return [] }
        let devices = topology.devices
        var rules: [FirewallRule] = []
        func pair(_ m: Netmap.Mapping, _ tunnels: String) {
            rules.append(
                FirewallRule(
                    .netmapPrerouting,
                    "\(m.mapped)-to-\(m.real)",
                    interface: .init(.incoming, tunnels, isPrefix: true),
                    destination: m.mapped,
                    verdict: .netmap,
                    netmapTo: m.real
                )
            )
            rules.append(
                FirewallRule(
                    .netmapPostrouting,
                    "\(m.real)-to-\(m.mapped)",
                    interface: .init(.outgoing, tunnels, isPrefix: true),
                    source: m.real,
                    verdict: .netmap,
                    netmapTo: m.mapped
                )
            )
        }
        switch role {
        case .apiserver:
            for m in netmap.shoot {
                rules.append(
                    FirewallRule(
                        .netmapOutput,
                        "\(m.real)-to-\(m.mapped)",
                        interface: nil,
                        destination: m.real,
                        socketGroup: Netmap.proxyGroup,
                        verdict: .netmap,
                        netmapTo: m.mapped
                    )
                )
            }
            for m in netmap.seedPods { pair(m, devices.apiserverTunnelPrefix) }
        case .shoot:
            for m in netmap.shoot { pair(m, devices.shootTunnelPrefix) }
        case .server:
            // The server pod only switches frames between taps; it never sees the inner IPv4.
            break
        }
        // Chain order, then the order above within each chain (the planner compares per chain).
        return RulesetChain.allCases.flatMap { chain in rules.filter { $0.chain == chain } }
    }
}
