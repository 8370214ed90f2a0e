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
    ///
    /// Single mode (always, vpn2 `pkg/vpn_server/iptables.go` and `cmd/vpn_server/app/firewall.go` on the
    /// server, `pkg/vpn_client/iptables.go` on vpn-shoot), on `tun0`:
    /// - server: the proxy's sockets (group 31415, as vpn2's envoy: `havpn run` runs with that group)
    ///   dialling a real shoot address get the stand-in (nat OUTPUT); the seed pod source (the pod IP the
    ///   proxy dials from) leaving through tun0 becomes 241/8, and 241/8 arriving becomes the seed pod.
    /// - shoot: the stand-in pairs of the shoot networks, as in HA, on tun0.
    /// Said in the plan, so that routes to 241-244/8 and the translated addresses are never a surprise.
    static func netmapNote(topology: Topology, role: Role) -> String? {
        let netmap = topology.netmap
        let single = topology.mode == .single
        guard netmap.isActive, role != .server || single else { return nil }
        let pairs = netmap.mappings.map { "\($0.real) as \($0.mapped)" }.joined(separator: ", ")
        let why = single ? "single mode maps IPv4 always, as vpn2" : "seed and shoot networks overlap"
        return "NETMAP on (\(why)): \(pairs)"
    }

    static func netmapRules(topology: Topology, role: Role) -> [FirewallRule] {
        let netmap = topology.netmap
        guard netmap.isActive else { return [] }
        let devices = topology.devices
        var rules: [FirewallRule] = []
        let single = topology.mode == .single
        // Single mode translates on openvpn's tun0 exactly, HA on the role's tunnel devices by prefix.
        func pair(_ m: Netmap.Mapping, _ tunnels: String) {
            rules.append(
                FirewallRule(
                    .netmapPrerouting,
                    "\(m.mapped)-to-\(m.real)",
                    interface: .init(.incoming, tunnels, isPrefix: !single),
                    destination: m.mapped,
                    verdict: .netmap,
                    netmapTo: m.real
                )
            )
            rules.append(
                FirewallRule(
                    .netmapPostrouting,
                    "\(m.real)-to-\(m.mapped)",
                    interface: .init(.outgoing, tunnels, isPrefix: !single),
                    source: m.real,
                    verdict: .netmap,
                    netmapTo: m.mapped
                )
            )
        }
        func proxyOutput() {
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
        }
        switch (role, single) {
        case (.apiserver, _):
            proxyOutput()
            for m in netmap.seedPods { pair(m, devices.apiserverTunnelPrefix) }
        case (.shoot, false):
            for m in netmap.shoot { pair(m, devices.shootTunnelPrefix) }
        case (.shoot, true):
            for m in netmap.shoot { pair(m, devices.tun) }
        case (.server, true):
            // The proxy runs in this pod: vpn2's envoy rules plus its firewall hook's 241/8 pair.
            proxyOutput()
            for m in netmap.seedPods { pair(m, devices.tun) }
        case (.server, false):
            // The server pod only switches frames between taps; it never sees the inner IPv4.
            break
        }
        // Chain order, then the order above within each chain (the planner compares per chain).
        return RulesetChain.allCases.flatMap { chain in rules.filter { $0.chain == chain } }
    }
}
