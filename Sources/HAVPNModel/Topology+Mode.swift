extension Topology {
    /// Which reversed tunnel the topology describes.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// vpn2's HA fabric: N servers in tap mode, a bond and ip6tnl tunnels in every kube-apiserver and
        /// vpn-shoot pod, the path-controller and announcements.
        case ha
        /// vpn2's non-HA tunnel (facts §5.3), what most shoots run: one vpn-seed-server with openvpn on an
        /// L3 `tun0` (`topology subnet`), one vpn-shoot Deployment acting as router and NAT, and
        /// kube-apiserver reaching the shoot through the server's CONNECT proxy. No bond, no taps, no
        /// tunnels, no announcements and no havpn in the kube-apiserver pod.
        case single
    }

    /// Keys that configure only the HA fabric. In single mode each is an error, not silently ignored: a
    /// file that sets one expects an effect it would not have.
    ///
    /// Not here, because single mode uses them: `transport` (its /96 is openvpn's `server-ipv6` pool on
    /// tun0, as vpn2's non-HA `VPN_NETWORK`), `ipFamilies`, `networks`, `http`, `openvpn`, `filter`,
    /// `nat`, `proxy`, `timings.resyncInterval` and `timings.configPollInterval`. `servers` and
    /// `shootClients` are accepted at 1, their only value in single mode.
    public static let haOnlyKeys: [String] = [
        "apiservers", "bond", "announcements", "mtu",
        "devices.bond", "devices.tapPrefix", "devices.apiserverTunnelPrefix", "devices.shootTunnelPrefix",
        "timings.probeInterval", "timings.probeTimeout", "timings.unhealthyThreshold",
        "timings.healthyThreshold", "timings.pathProbeInterval", "timings.pathUnhealthyThreshold",
    ]

    /// Keys that configure only single mode; an error in HA mode.
    public static let singleOnlyKeys: [String] = ["devices.tun", "openvpn.clientConfigDir"]
}

extension TopologyReader {
    /// Single mode has exactly one server and one vpn-shoot (one client certificate, `vpn-shoot-client`).
    mutating func applyModeDefaults() {
        guard topology.mode == .single else { return }
        if locations["servers"] == nil { topology.servers = 1 }
        if locations["shootClients"] == nil { topology.shootClients = 1 }
    }
}

extension TopologyValidator {
    func validateMode() throws(HAVPNError) {
        let mode = topology.mode
        let foreign = mode == .single ? Topology.haOnlyKeys : Topology.singleOnlyKeys
        // The first such key in the file, so the message points at what to delete.
        let present = foreign.compactMap { key in locations[key].map { (key, $0) } }
            .min { ($0.1.line, $0.1.column) < ($1.1.line, $1.1.column) }
        if let (key, location) = present {
            let why =
                mode == .single
                ? "configures the HA fabric only; mode is single (one server on tun0, no bond, taps or tunnels)"
                : "configures single mode only; mode is ha (set mode: single)"
            throw HAVPNError(.invalidValue, why, location: location, keyPath: key)
        }
        guard mode == .single else { return }
        for (key, value) in [("servers", topology.servers), ("shootClients", topology.shootClients)] where value != 1 {
            throw HAVPNError(
                .outOfRange,
                "single mode has exactly 1 (\(key == "servers" ? "one vpn-seed-server" : "one vpn-shoot Deployment, one client certificate")), not \(value)",
                location: locations[key],
                keyPath: key
            )
        }
        // The proxy's IPv4 connections leave the server pod from its pod IP (tun0 has only the IPv6 pool
        // address); the server NETMAPs that source into 241/8 by the seed pod network, and vpn-shoot
        // routes 241/8 back through tun0. Without a seed pod network there is nothing to translate.
        if topology.ipFamilies.contains(.ipv4) && !topology.networks.seedPods.contains(where: { $0.family == .ipv4 }) {
            throw HAVPNError(
                .missingKey,
                "single mode with IPv4 needs an IPv4 networks.seedPods: vpn-shoot routes the replies to the "
                    + "server pod's IPv4 address through tun0",
                location: locations["networks"] ?? locations["ipFamilies"] ?? locations["mode"],
                keyPath: "networks.seedPods"
            )
        }
    }
}
