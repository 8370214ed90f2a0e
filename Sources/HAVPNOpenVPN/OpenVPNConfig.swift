import HAVPNModel

/// Renders the openvpn configs of the HA fabric from the topology (pure: no I/O, no Foundation).
///
/// Follows vpn2's templates and the lab's proven configs, with the differences that make openvpn a pure
/// transport for havpn's data plane:
/// - the servers are pure L2 switches (`mode server`, `client-to-client`, no `server-ipv6`, no pool);
/// - the clients attach to havpn's persistent taps (`dev <tapPrefix><i>`) and refuse pushed addresses;
/// - no `persist-tun` anywhere: a client that loses its server closes its tap, the carrier drops, and
///   that is the only signal the bond fails over on.
///
/// CLI: `havpn openvpn-config -f FILE --server I` → ``server(topology:index:)``;
/// `havpn openvpn-config -f FILE --role R --index N --client I` → ``client(topology:role:podIndex:server:)``.
public enum OpenVPNConfig {
    /// openvpn rejects longer config lines (OPTION_LINE_SIZE); vpn2 checks the same limit.
    public static let maxLineLength = 256
    /// Linux IFNAMSIZ - 1.
    public static let maxInterfaceNameLength = AddressPlan.maxInterfaceNameLength
    public static let clientProtocols = ["tcp-client", "tcp4-client", "tcp6-client"]

    /// Certificate/key base name (and CN convention) in `openvpn.secretsDir` per role.
    public static func commonName(for role: Role) -> String {
        switch role {
        case .server: "server"
        case .apiserver: "vpn-seed-client"
        case .shoot: "vpn-shoot-client"
        }
    }

    /// Replaces every `{i}` in `pattern` by `index`.
    public static func substitute(_ pattern: String, index: Int) -> String {
        pattern.replacing("{i}", with: String(index))
    }

    // MARK: - Server

    /// The config of vpn-seed-server `index` (0..<servers).
    public static func server(topology: Topology, index: Int) throws(HAVPNError) -> String {
        let o = topology.openvpn
        try checkServerIndex(index, topology)
        try checkCommon(o)
        if topology.mode == .single { return try singleServer(topology: topology) }  // OpenVPNConfig+Single.swift
        var lines: [String] =
            [
                "# vpn-seed-server \(index): rendered by havpn (havpn openvpn-config --server \(index)).",
                "# A pure L2 switch between tap clients: no addresses are handed out; the clients attach",
                "# to havpn's persistent taps, which are slaves of each pod's bond.",
                "mode server",
                "tls-server",
                "dev tap0",
                "dev-type tap",
                "proto tcp6-server",
                "port \(o.serverPort)",
                "client-to-client",
                "duplicate-cn",
                "keepalive \(o.keepalive)",
                "tcp-nodelay",
                "txqueuelen 1000",
            ] + serverCrypto(secretsDir: o.secretsDir) + [
                "# Without --ifconfig openvpn leaves tap0 down, and a down tap stalls the whole server",
                "# (\"MULTI: Outgoing TUN queue full\"): bring it up from the up script.",
                "script-security 2",
                "up \"/bin/sh -c '/sbin/ip link set dev $1 up' --\"",
                "status \(quote(substitute(o.statusFile, index: index))) 10",
                "status-version 2",
                "verb \(o.verbosity)",
            ]
        lines.append("")
        return try finish(lines)
    }

    // MARK: - Client

    /// The config of the openvpn client of pod `podIndex` of `role` (apiserver or shoot) for server `server`.
    ///
    /// apiserver clients dial the server directly (seed side); shoot clients dial through the HTTP CONNECT
    /// proxy with the routing header (`openvpn.proxyHeader: openvpn.proxyHeaderValue`, `{i}` = server index).
    public static func client(topology: Topology, role: Role, podIndex: Int, server: Int) throws(HAVPNError) -> String {
        let o = topology.openvpn
        try checkServerIndex(server, topology)
        try checkCommon(o)
        switch role {
        case .apiserver:
            guard AddressPlan.apiserverIndexRange.contains(podIndex) else {
                throw HAVPNError(.invalidIdentity, "apiserver index \(podIndex) is outside 1...65535")
            }
        case .shoot:
            guard (0..<topology.shootClients).contains(podIndex) else {
                throw HAVPNError(
                    .invalidIdentity,
                    "shoot index \(podIndex) is outside 0..<\(topology.shootClients)",
                    keyPath: "shootClients"
                )
            }
        case .server:
            throw HAVPNError(.usage, "openvpn clients run in apiserver or shoot pods, not in role server")
        }
        if topology.mode == .single { return try singleShootClient(topology: topology, role: role) }
        let tap = AddressPlan(topology: topology).tapName(server: server)
        guard tap.utf8.count <= maxInterfaceNameLength else {
            throw HAVPNError(
                .nameTooLong,
                "tap name \(tap) is longer than \(maxInterfaceNameLength) bytes",
                keyPath: "devices.tapPrefix"
            )
        }
        var lines: [String] =
            [
                "# openvpn client of \(role.rawValue) pod \(podIndex) to vpn-seed-server \(server): rendered by havpn.",
                "# Attaches to havpn's persistent \(tap) (a bond slave); havpn owns taps, bond, tunnels, routes.",
                "client",
                "dev \(tap)",
                "dev-type tap",
                "proto \(o.clientProtocol)",
                "remote \(quote(substitute(o.serverHost, index: server))) \(o.serverPort)",
                "nobind",
                "connect-retry 1 5",
            ] + clientCrypto(secretsDir: o.secretsDir, role: role) + [
                "# Keep pushed addresses off havpn's taps: the pod's address lives on the bond.",
                "pull-filter ignore \"ifconfig-ipv6\"",
            ]
        if role == .shoot {
            lines += [
                "# Dial through the HTTP CONNECT gateway; it routes on this header to server \(server).",
                "http-proxy \(quote(o.proxyHost)) \(o.proxyPort)",
                "http-proxy-option CUSTOM-HEADER \(quote(o.proxyHeader)) \(quote(substitute(o.proxyHeaderValue, index: server)))",
            ]
        }
        lines += [
            "verb \(o.verbosity)",
            "# persist-tun is deliberately NOT set: when this client loses its server it closes \(tap),",
            "# the tap's carrier drops, and that carrier drop is the only signal the bond fails over on",
            "# (about 0.2 s). With persist-tun the carrier stays up and traffic blackholes until the",
            "# server returns.",
            "",
        ]
        return try finish(lines)
    }

    // MARK: - TLS and data channel, the same in every mode

    /// The server's certificate, key, tls-auth (direction 0) and data channel settings.
    static func serverCrypto(secretsDir dir: String) -> [String] {
        let cn = commonName(for: .server)
        return [
            "ca \(quote(dir + "/ca.crt"))",
            "cert \(quote(dir + "/\(cn).crt"))",
            "key \(quote(dir + "/\(cn).key"))",
            "dh none",
            "tls-auth \(quote(dir + "/ta.key")) 0",
            "auth SHA256",
            "data-ciphers AES-256-GCM",
            "disable-dco",
        ]
    }

    /// A client's server check, certificate of its role, tls-auth (direction 1) and data channel settings.
    static func clientCrypto(secretsDir dir: String, role: Role) -> [String] {
        let cn = commonName(for: role)
        return [
            "remote-cert-tls server",
            "ca \(quote(dir + "/ca.crt"))",
            "cert \(quote(dir + "/\(cn).crt"))",
            "key \(quote(dir + "/\(cn).key"))",
            "tls-auth \(quote(dir + "/ta.key")) 1",
            "auth SHA256",
            "data-ciphers AES-256-GCM",
            "auth-nocache",
            "disable-dco",
        ]
    }

    // MARK: - Validation and formatting

    static func checkServerIndex(_ index: Int, _ topology: Topology) throws(HAVPNError) {
        guard (0..<topology.servers).contains(index) else {
            throw HAVPNError(
                .outOfRange,
                "server index \(index) is outside 0..<\(topology.servers)",
                keyPath: "servers"
            )
        }
    }

    static func checkCommon(_ o: Topology.OpenVPNSettings) throws(HAVPNError) {
        let texts: [(String, String)] = [
            ("openvpn.proxyHost", o.proxyHost), ("openvpn.serverHost", o.serverHost),
            ("openvpn.proxyHeader", o.proxyHeader), ("openvpn.proxyHeaderValue", o.proxyHeaderValue),
            ("openvpn.secretsDir", o.secretsDir), ("openvpn.statusFile", o.statusFile),
            ("openvpn.clientConfigDir", o.clientConfigDir),
        ]
        for (key, value) in texts {
            guard !value.isEmpty else { throw HAVPNError(.invalidValue, "must not be empty", keyPath: key) }
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw HAVPNError(.invalidValue, "must not contain control characters (line breaks)", keyPath: key)
            }
        }
        // An HTTP header name is a token: no spaces or separators.
        guard o.proxyHeader.unicodeScalars.allSatisfy({ isTokenChar($0) }) else {
            throw HAVPNError(
                .invalidValue,
                "\(o.proxyHeader) is not a valid HTTP header name",
                keyPath: "openvpn.proxyHeader"
            )
        }
        for (key, port) in [("openvpn.serverPort", o.serverPort), ("openvpn.proxyPort", o.proxyPort)] {
            guard (1...65535).contains(port) else {
                throw HAVPNError(.outOfRange, "port \(port) is outside 1...65535", keyPath: key)
            }
        }
        if let problem = Topology.OpenVPNSettings.keepaliveProblem(o.keepalive) {
            throw HAVPNError(.invalidValue, problem, keyPath: "openvpn.keepalive")
        }
        guard clientProtocols.contains(o.clientProtocol) else {
            throw HAVPNError(
                .invalidValue,
                "\(o.clientProtocol) is not one of \(clientProtocols.joined(separator: ", "))",
                keyPath: "openvpn.clientProtocol"
            )
        }
        guard (0...11).contains(o.verbosity) else {
            throw HAVPNError(.outOfRange, "verbosity \(o.verbosity) is outside 0...11", keyPath: "openvpn.verbosity")
        }
    }

    private static func isTokenChar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9": true
        case "!", "#", "$", "%", "&", "'", "*", "+", "-", ".", "^", "_", "`", "|", "~": true
        default: false
        }
    }

    /// One openvpn config argument: bare when it is safe, otherwise double-quoted with `\` and `"` escaped.
    static func quote(_ arg: String) -> String {
        let special: Set<Unicode.Scalar> = [" ", "\t", "\"", "'", "\\", "#", ";"]
        guard arg.isEmpty || arg.unicodeScalars.contains(where: { special.contains($0) }) else { return arg }
        var out = "\""
        for c in arg.unicodeScalars {
            if c == "\\" || c == "\"" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "\""
    }

    static func finish(_ lines: [String]) throws(HAVPNError) -> String {
        for (n, line) in lines.enumerated() where line.utf8.count > maxLineLength {
            throw HAVPNError(
                .invalidValue,
                "rendered line \(n + 1) has \(line.utf8.count) bytes, openvpn accepts at most \(maxLineLength): "
                    + String(line.prefix(60)) + "…",
                keyPath: "openvpn"
            )
        }
        return lines.joined(separator: "\n")
    }
}
