import HAVPNModel

/// Single mode (vpn2's non-HA tunnel, facts §5.3): one server on an L3 `tun0` in `topology subnet`, the
/// shoot networks `iroute`d to vpn-shoot by its client-config-dir entry, and vpn-shoot's client on its
/// own `tun0`.
///
/// Unlike vpn2 there are no `route` lines, `push "route ..."` lines or `up` hooks: havpn owns the routes
/// through tun0 in both pods (proto 201, drift repaired) and the filter and NAT, so openvpn only moves
/// packets. As in HA no `persist-tun`: a lost connection takes tun0 and its routes away, which is what
/// readiness reports.
extension OpenVPNConfig {
    /// openvpn's `max-routes-per-client` bounds the routes it learns per client, one per shoot address
    /// seen; vpn2 PR #295 sizes it from the shoot networks' address count, within these bounds.
    static let maxRoutesPerClientRange = 256...(1 << 20)

    /// The server config of single mode (`havpn openvpn-config --server 0`).
    static func singleServer(topology: Topology) throws(HAVPNError) -> String {
        let o = topology.openvpn
        let tun = try tunName(topology)
        let lines: [String] =
            [
                "# vpn-seed-server (single mode): rendered by havpn (havpn openvpn-config --server 0).",
                "# L3 on \(tun), addresses from the tun network; the shoot networks (IPv4 as their NETMAP ranges)",
                "# are iroute'd to \(commonName(for: .shoot)) (client-config-dir) and routed through \(tun) by havpn.",
                "mode server",
                "tls-server",
                "topology subnet",
                "dev \(tun)",
                "dev-type tun",
                "proto tcp6-server",
                "port \(o.serverPort)",
                "server-ipv6 \(topology.transport.network)",
                "client-config-dir \(quote(o.clientConfigDir))",
                "max-routes-per-client \(maxRoutesPerClient(topology))",
                "keepalive \(o.keepalive)",
                "tcp-nodelay",
                "txqueuelen 1000",
            ] + serverCrypto(secretsDir: o.secretsDir) + [
                "status \(quote(substitute(o.statusFile, index: 0))) 10",
                "status-version 2",
                "verb \(o.verbosity)",
                "",
            ]
        return try finish(lines)
    }

    /// The file `<openvpn.clientConfigDir>/vpn-shoot-client`: the shoot networks of the declared families
    /// as `iroute` (IPv4, address and netmask) and `iroute-ipv6` lines, so the server hands packets for
    /// them to vpn-shoot (`havpn openvpn-config --client-config-dir`). IPv4 networks are their NETMAP
    /// ranges 242/243/244.0.0.0/8, as vpn2's `server-for-client-config.template` (non-HA maps always):
    /// the stand-ins are what crosses tun0, and vpn-shoot (havpn's or vpn2's) translates them back.
    public static func clientConfigDirEntry(topology: Topology) throws(HAVPNError) -> String {
        guard topology.mode == .single else {
            throw HAVPNError(
                .usage,
                "the client-config-dir entry is single mode's; in HA mode the servers are L2 switches",
                keyPath: "mode"
            )
        }
        var lines = [
            "# \(topology.openvpn.clientConfigDir)/\(commonName(for: .shoot)): rendered by havpn "
                + "(havpn openvpn-config --client-config-dir)."
        ]
        var seen: Set<IPNetwork> = []
        let netmap = topology.netmap
        for network in topology.networks.shoot.all.map(netmap.range(ofShoot:))
        where topology.ipFamilies.contains(network.family) && seen.insert(network).inserted {
            switch network.family {
            case .ipv4: lines.append("iroute \(network.address) \(netmask(prefixLength: network.prefixLength))")
            case .ipv6: lines.append("iroute-ipv6 \(network)")
            }
        }
        lines.append("")
        return try finish(lines)
    }

    /// vpn-shoot's client of single mode (`havpn openvpn-config --role shoot --index 0 --client 0`).
    static func singleShootClient(topology: Topology, role: Role) throws(HAVPNError) -> String {
        guard role == .shoot else {
            throw HAVPNError(
                .usage,
                "single mode has no openvpn client in the kube-apiserver pod: it uses the server's CONNECT proxy",
                keyPath: "mode"
            )
        }
        let o = topology.openvpn
        let tun = try tunName(topology)
        let lines: [String] =
            [
                "# openvpn client of vpn-shoot (single mode): rendered by havpn.",
                "# openvpn owns \(tun) and its pushed address; havpn routes the seed pod network through it and NATs.",
                "client",
                "dev \(tun)",
                "dev-type tun",
                "proto \(o.clientProtocol)",
                "remote \(quote(substitute(o.serverHost, index: 0))) \(o.serverPort)",
                "nobind",
                "connect-retry 1 5",
            ] + clientCrypto(secretsDir: o.secretsDir, role: .shoot) + [
                "# Dial through the HTTP CONNECT gateway; it routes on this header to the server.",
                "http-proxy \(quote(o.proxyHost)) \(o.proxyPort)",
                "http-proxy-option CUSTOM-HEADER \(quote(o.proxyHeader)) \(quote(substitute(o.proxyHeaderValue, index: 0)))",
                "verb \(o.verbosity)",
                "",
            ]
        return try finish(lines)
    }

    private static func tunName(_ topology: Topology) throws(HAVPNError) -> String {
        let tun = topology.devices.tun
        guard !tun.isEmpty, tun.utf8.count <= maxInterfaceNameLength else {
            throw HAVPNError(.nameTooLong, "\(tun) is not 1...\(maxInterfaceNameLength) bytes", keyPath: "devices.tun")
        }
        return tun
    }

    /// The shoot networks' address count (IPv6 counted as the cap), within ``maxRoutesPerClientRange``.
    static func maxRoutesPerClient(_ topology: Topology) -> Int {
        let cap = maxRoutesPerClientRange.upperBound
        var total = 0
        for network in topology.networks.shoot.all where topology.ipFamilies.contains(network.family) {
            let hostBits = network.family == .ipv4 ? 32 - network.prefixLength : 128 - network.prefixLength
            total = hostBits >= 21 ? cap : min(cap, total + (1 << hostBits))
        }
        return min(max(total, maxRoutesPerClientRange.lowerBound), cap)
    }

    /// `255.224.0.0` for 11: openvpn's `iroute` takes an address and a netmask.
    static func netmask(prefixLength: Int) -> String {
        let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << UInt32(32 - prefixLength)
        return [24, 16, 8, 0].map { String((mask >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }
}
