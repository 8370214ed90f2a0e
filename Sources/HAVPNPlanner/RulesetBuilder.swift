import HAVPNModel

extension Planner {
    /// The packet filter and NAT of one role (vpn2's rules, gardener-vpn2-facts §4.5):
    ///
    /// - apiserver: INPUT on the bond and the apiserver tunnels accepts the ip6tnl transport (bond
    ///   only), replies (ct established/related) and ICMPv6, and drops the rest: the shoot is the
    ///   tenant's cluster and must not open connections to the pod's sockets. Announcements are sent
    ///   (output), probes are ICMPv6 and the path beacons are L2 frames, so all keep working.
    /// - shoot: FORWARD accepts from the bond and the shoot tunnels; forwarded TCP SYNs get their MSS
    ///   clamped to the path MTU; what leaves through the uplink is masqueraded, because shoot
    ///   workloads have no route back to seed pod IPs.
    /// - server: INPUT on the VPN devices (`<tapPrefix>*`, single mode `tun0`) accepts replies and
    ///   ICMPv6 and drops the rest, as vpn2's firewall hook.
    /// - apiserver and shoot: NETMAP when seed and shoot networks overlap (RulesetNetmap.swift).
    public static func desiredRuleset(topology: Topology, role: Role) -> Ruleset {
        let devices = topology.devices
        let filter = topology.filter
        let nat = topology.nat
        var rules: [FirewallRule] = []
        var notes: [String] = []
        func inputFilter(on interfaces: [InterfaceMatch], transportOn bond: String?) {
            if let bond {
                for (suffix, match) in [("ipip", PacketMatch.tunnelTransportIPv4), ("ip6ip6", .tunnelTransportIPv6)] {
                    rules.append(
                        FirewallRule(
                            .input,
                            "\(bond)-\(suffix)",
                            interface: .init(.incoming, bond),
                            match: match,
                            verdict: .accept
                        )
                    )
                }
            }
            for i in interfaces {
                let label = i.name + (i.isPrefix ? "+" : "")
                rules.append(
                    FirewallRule(
                        .input,
                        "\(label)-replies",
                        interface: i,
                        match: .establishedOrRelated,
                        verdict: .accept
                    )
                )
                rules.append(FirewallRule(.input, "\(label)-icmpv6", interface: i, match: .icmpv6, verdict: .accept))
                rules.append(FirewallRule(.input, "\(label)-drop", interface: i, verdict: .drop))
            }
        }
        switch role {
        case .apiserver:
            if filter.input {
                inputFilter(
                    on: [
                        .init(.incoming, devices.bond), .init(.incoming, devices.apiserverTunnelPrefix, isPrefix: true),
                    ],
                    transportOn: devices.bond
                )
            } else {
                notes.append("input filter off (filter.input: false): the shoot can reach this pod's sockets")
            }
        case .shoot:
            // Single mode: everything from the seed arrives on openvpn's tun0 (vpn2's `FORWARD -i tun0`).
            let fromSeed =
                topology.mode == .single
                ? [InterfaceMatch(.incoming, devices.tun)]
                : [
                    InterfaceMatch(.incoming, devices.bond),
                    InterfaceMatch(.incoming, devices.shootTunnelPrefix, isPrefix: true),
                ]
            if filter.forward {
                for i in fromSeed {
                    rules.append(
                        FirewallRule(
                            .forward,
                            "\(i.name)\(i.isPrefix ? "+" : "")-forward",
                            interface: i,
                            verdict: .accept
                        )
                    )
                }
            } else {
                notes.append("forward accept off (filter.forward: false)")
            }
            if nat.mssClamp {
                rules.append(FirewallRule(.mss, "mss-clamp", interface: nil, match: .tcpSyn, verdict: .clampMSSToPMTU))
            } else {
                notes.append("TCP MSS clamp off (nat.mssClamp: false)")
            }
            if nat.masquerade {
                rules.append(
                    FirewallRule(
                        .masquerade,
                        "\(nat.uplink)-masquerade",
                        interface: .init(.outgoing, nat.uplink),
                        verdict: .masquerade
                    )
                )
            } else {
                notes.append("masquerade off (nat.masquerade: false): shoot workloads cannot answer seed pod IPs")
            }
        case .server:
            if filter.input {
                let vpn: InterfaceMatch =
                    topology.mode == .single
                    ? .init(.incoming, devices.tun) : .init(.incoming, devices.tapPrefix, isPrefix: true)
                inputFilter(on: [vpn], transportOn: nil)
            } else {
                notes.append("input filter off (filter.input: false): the shoot can reach this pod's sockets")
            }
        }
        rules += netmapRules(topology: topology, role: role)
        if let note = netmapNote(topology: topology, role: role) { notes.append(note) }
        return Ruleset(rules: rules, notes: notes)
    }
}
