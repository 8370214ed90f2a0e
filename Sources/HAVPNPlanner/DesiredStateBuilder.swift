import HAVPNModel

/// Linux limits interface names to IFNAMSIZ - 1 = 15 bytes.
let maximumLinkNameLength = 15

extension Planner {
    /// The Linux state one pod should have, for its role and index, given the controllers' inputs.
    ///
    /// - apiserver: taps + bond (`::a:<index>/104`), one ip6tnl per shoot client, the shoot networks
    ///   routed through the tunnel of `inputs.activeShootClient`, and vpn2's sysctls.
    /// - shoot: taps + bond (`::b:<index>/104`), one ip6tnl per apiserver peer, a host route per
    ///   apiserver pod IP through that peer's tunnel, forwarding on.
    /// - server: only `disable_ipv6=0`. The vpn-seed-server's openvpn creates its own `tap0` in server
    ///   mode and switches frames itself (no bond, no tunnel), so like vpn2's `vpn-server setup`
    ///   havpn only makes sure IPv6 (the transport) is enabled.
    ///
    /// Every list in the result is sorted, so equal inputs give equal values.
    public static func desiredState(
        topology: Topology,
        identity: Identity,
        inputs: ControllerInputs
    ) throws(HAVPNError) -> DesiredState {
        try Identity.validate(role: identity.role, index: identity.index, topology: topology, source: "identity")
        if topology.mode == .single { return singleModeState(topology: topology, role: identity.role) }
        let plan = AddressPlan(topology: topology)
        var state = DesiredState()
        switch identity.role {
        case .server:
            state.sysctls = ipv6EnabledSysctls
        case .apiserver:
            let own = plan.apiserverBondAddress(identity.index)
            try addBondFabric(to: &state, plan: plan, ownAddress: own, preferredServer: inputs.preferredServer)
            guard (0..<topology.shootClients).contains(inputs.activeShootClient) else {
                throw HAVPNError(
                    .outOfRange,
                    "active shoot client \(inputs.activeShootClient) is outside 0..<\(topology.shootClients)"
                )
            }
            for j in 0..<topology.shootClients {
                let tunnel = TunnelSpec(local: own, remote: plan.shootClientBondAddress(j))
                state.links.append(LinkSpec(name: plan.apiserverTunnelName(shootClient: j), kind: .ip6tnl(tunnel)))
            }
            let active = plan.apiserverTunnelName(shootClient: inputs.activeShootClient)
            var seen: Set<IPNetwork> = []
            // With overlapping networks the shoot's IPv4 networks are routed as their NETMAP stand-ins:
            // the real ones are (partly) seed pods. vpn2 routes each stand-in's whole /8 instead.
            let netmap = topology.netmap
            for real in topology.networks.shoot.all where topology.ipFamilies.contains(real.family) {
                let network = netmap.mapped(real)
                guard seen.insert(network).inserted else { continue }
                state.routes.append(
                    RouteSpec(destination: network, device: active, metric: kernelDefaultMetric(network.family))
                )
            }
            state.sysctls = reversePathSysctls + ipv6EnabledSysctls
        case .shoot:
            let own = plan.shootClientBondAddress(identity.index)
            try addBondFabric(to: &state, plan: plan, ownAddress: own, preferredServer: inputs.preferredServer)
            var routes: [RouteKey: RouteSpec] = [:]
            // A seed pod IP is reached as its 241/8 stand-in when networks overlap. vpn2 announces the
            // stand-in already; a declared pod IP (or one announced unmapped) is mapped here.
            let netmap = topology.netmap
            for peer in try apiserverPeers(topology: topology, inputs: inputs, plan: plan) {
                let name = plan.shootTunnelName(peer: peer.bondAddress)
                state.links.append(
                    LinkSpec(name: name, kind: .ip6tnl(TunnelSpec(local: own, remote: peer.bondAddress)))
                )
                for ip in peer.podIPs.map(netmap.mapped) {
                    let route = RouteSpec(
                        destination: IPNetwork(host: ip),
                        device: name,
                        metric: kernelDefaultMetric(ip.family)
                    )
                    // Two peers claiming one pod IP: the later peer wins (see `apiserverPeers`).
                    routes[route.key] = route
                }
            }
            state.routes = Array(routes.values)
            state.sysctls =
                reversePathSysctls + ipv6EnabledSysctls + [
                    SysctlSpec("net.ipv4.ip_forward", "1"),
                    SysctlSpec("net.ipv6.conf.all.forwarding", "1"),
                ]
        }
        for link in state.links where link.name.utf8.count > maximumLinkNameLength || link.name.isEmpty {
            throw HAVPNError(
                .nameTooLong,
                "link name '\(link.name)' must be 1...\(maximumLinkNameLength) bytes",
                keyPath: "devices",
                object: "link \(link.name)"
            )
        }
        state.links.sort { $0.name < $1.name }
        state.addresses.sort()
        // RouteSpec's order: destination, metric, device.
        state.routes = state.routes.sortedByIndices(
            key: { RouteOrderKey($0.destination, metric: $0.metric) },
            tieBreak: { $0.device < $1.device }
        )
        state.sysctls.sort()
        state.ruleset = desiredRuleset(topology: topology, role: identity.role)
        return state
    }

    /// havpn's routes carry "no metric", written 0 in both families. The kernel stores an IPv6
    /// route without metric as 1024 (IP6_RT_PRIO_USER); the netlink layer translates both ways
    /// (observe reports 1024 as 0, apply sends 0 as 1024), so the planner never sees 1024 for
    /// a route of its own and a converged state plans empty.
    public static func kernelDefaultMetric(_ family: IPFamily) -> Int { 0 }

    /// vpn2 PR #238: don't drop (and log) VPN packets after a path switch.
    static let reversePathSysctls: [SysctlSpec] = [
        SysctlSpec("net.ipv4.conf.all.rp_filter", "0"),
        SysctlSpec("net.ipv4.conf.default.rp_filter", "0"),
        SysctlSpec("net.ipv4.conf.all.log_martians", "0"),
        SysctlSpec("net.ipv4.conf.default.log_martians", "0"),
    ]

    /// The transport is IPv6; some nodes (GKE) disable it (g#10641).
    static let ipv6EnabledSysctls: [SysctlSpec] = [
        SysctlSpec("net.ipv6.conf.all.disable_ipv6", "0"),
        SysctlSpec("net.ipv6.conf.default.disable_ipv6", "0"),
    ]

    /// Taps enslaved to the bond, and the bond's own address.
    private static func addBondFabric(
        to state: inout DesiredState,
        plan: AddressPlan,
        ownAddress: IPv6Address,
        preferredServer: Int?
    ) throws(HAVPNError) {
        let topology = plan.topology
        let options = topology.bond
        var primary: String? = nil
        // Only active-backup has a primary; the kernel refuses the option in balance-rr.
        // The server path-controller's choice wins over the topology's: setting the primary is
        // how havpn moves the bond off a server path that is up but dead (carrier stays up).
        if let p = preferredServer ?? options.primary, options.mode == .activeBackup {
            guard (0..<topology.servers).contains(p) else {
                throw HAVPNError(
                    .outOfRange,
                    "bond primary \(p) is outside 0..<\(topology.servers)",
                    keyPath: preferredServer == nil ? "bond.primary" : "inputs.preferredServer"
                )
            }
            primary = plan.tapName(server: p)
        }
        let bond = BondSpec(
            mode: options.mode,
            miimon: options.miimon,
            failOverMAC: options.failOverMAC,
            useCarrier: options.useCarrier,
            primary: primary,
            numPeerNotif: options.numPeerNotif
        )
        for i in 0..<topology.servers {
            state.links.append(
                LinkSpec(name: plan.tapName(server: i), kind: .tap, master: plan.bondName, mtu: topology.mtu)
            )
        }
        state.links.append(LinkSpec(name: plan.bondName, kind: .bond(bond), mtu: topology.mtu))
        state.addresses.append(
            AddressSpec(
                device: plan.bondName,
                address: .v6(ownAddress),
                prefixLength: AddressPlan.bondPrefixLength,
                nodad: true
            )
        )
    }

    /// The topology's apiservers followed by the announced ones, one per bond address; an announced
    /// peer replaces a declared one with the same bond address. The order is kept (the run loop lists
    /// announced peers oldest first), so when two peers claim one pod IP the newer one's route wins.
    static func apiserverPeers(
        topology: Topology,
        inputs: ControllerInputs,
        plan: AddressPlan
    ) throws(HAVPNError) -> [ApiserverPeer] {
        var declared: [ApiserverPeer] = []
        for (n, instance) in topology.apiservers.enumerated() {
            guard AddressPlan.apiserverIndexRange.contains(instance.index) else {
                throw HAVPNError(
                    .outOfRange,
                    "apiserver index \(instance.index) is outside 1...65535",
                    keyPath: "apiservers[\(n)].index"
                )
            }
            declared.append(
                ApiserverPeer(bondAddress: plan.apiserverBondAddress(instance.index), podIPs: instance.podIPs)
            )
        }
        for peer in inputs.apiserverPeers {
            guard plan.isInBondNetwork(peer.bondAddress) else {
                throw HAVPNError(
                    .invalidValue,
                    "apiserver peer \(peer.bondAddress) is outside the bond network \(plan.bondNetwork)"
                )
            }
            guard plan.apiserverIndex(ofBondAddress: peer.bondAddress) != nil else {
                throw HAVPNError(
                    .invalidValue,
                    "apiserver peer \(peer.bondAddress) is not an apiserver bond address (::a:1 … ::a:ffff)"
                )
            }
        }
        var merged: [ApiserverPeer] = []
        var position: [IPv6Address: Int] = [:]
        for peer in declared + inputs.apiserverPeers {
            if let at = position[peer.bondAddress] {
                merged[at] = peer
            } else {
                position[peer.bondAddress] = merged.count
                merged.append(peer)
            }
        }
        return merged
    }
}
