import HAVPNModel

extension Planner {
    /// Single mode (vpn2's non-HA tunnel, facts §5.3): openvpn owns `tun0` in both pods, havpn owns what
    /// vpn2's `firewall` and `up` hooks did, declared and kept in place.
    ///
    /// - server: the shoot networks through tun0 (vpn2's hook did `route replace <net> dev tun0`; openvpn
    ///   is given no `route` lines, so havpn's routes carry proto 201 and drift is repaired). Forwarding is
    ///   held off: the pod terminates everything (the CONNECT proxy dials out), so a forwarding server pod
    ///   would only be a router from the shoot into the seed.
    /// - shoot: the seed pod networks through tun0 (vpn2's client `up` hook): replies to the proxy's
    ///   source address go back through the tunnel; forwarding on, since vpn-shoot routes into the shoot.
    ///
    /// IPv4 is always NETMAPped (vpn2's non-HA `doNetmap = true`, ``Netmap``): the server routes the
    /// stand-in ranges 242/243/244.0.0.0/8 (not the real shoot networks, which may be the seed's own pod
    /// network), vpn-shoot routes 241.0.0.0/8; whole /8s as vpn2, so a vpn2 peer's packing is covered.
    /// IPv6 networks are routed as they are.
    ///
    /// tun0 is an external link: no `LinkSpec`, so havpn never creates or deletes it, and its routes wait
    /// while it is absent or down (``Plan/waiting``).
    static func singleModeState(topology: Topology, role: Role) -> DesiredState {
        let tun = topology.devices.tun
        var state = DesiredState(externalLinks: [tun])
        let netmap = topology.netmap
        let destinations: [IPNetwork]
        switch role {
        case .server:
            destinations = topology.networks.shoot.all.filter { topology.ipFamilies.contains($0.family) }
                .map(netmap.range(ofShoot:))
            state.sysctls =
                reversePathSysctls + ipv6EnabledSysctls + [
                    SysctlSpec("net.ipv4.ip_forward", "0"),
                    SysctlSpec("net.ipv6.conf.all.forwarding", "0"),
                ]
        case .shoot:
            destinations = topology.networks.seedPods.map(netmap.range(ofSeedPods:))
            state.sysctls =
                reversePathSysctls + ipv6EnabledSysctls + [
                    SysctlSpec("net.ipv4.ip_forward", "1"),
                    SysctlSpec("net.ipv6.conf.all.forwarding", "1"),
                ]
        case .apiserver:
            // Identity.validate refuses this role in single mode before we get here.
            destinations = []
        }
        var seen: Set<IPNetwork> = []
        state.routes = destinations.filter { seen.insert($0).inserted }.map {
            RouteSpec(destination: $0, device: tun, metric: kernelDefaultMetric($0.family))
        }
        // RouteSpec's order: destination, metric, device.
        state.routes = state.routes.sortedByIndices(
            key: { RouteOrderKey($0.destination, metric: $0.metric) },
            tieBreak: { $0.device < $1.device }
        )
        state.sysctls.sort()
        state.ruleset = desiredRuleset(topology: topology, role: role)
        return state
    }
}
