import HAVPNModel
import Testing

@testable import HAVPNOpenVPN

/// The rendered config as its lines, without the trailing empty line.
private func lines(_ text: String) -> [String] {
    var l = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if l.last == "" { l.removeLast() }
    return l
}

/// Directive lines only (comments and blanks dropped).
private func directives(_ text: String) -> [String] {
    lines(text).filter { !$0.hasPrefix("#") && !$0.isEmpty }
}

/// The first word of each directive.
private func keywords(_ text: String) -> [String] {
    directives(text).map { String($0.split(separator: " ").first ?? "") }
}

private func labTopology() -> Topology {
    var t = Topology()
    t.openvpn.serverHost = "fd00:100::1{i}"
    t.openvpn.proxyHost = "fd00:100::40"
    t.openvpn.proxyPort = 8443
    t.openvpn.proxyHeaderValue = "outbound|1194||vpn-seed-server-{i}.shoot--e2e--lab.svc.cluster.local"
    t.openvpn.keepalive = "2 6"
    t.openvpn.secretsDir = "/work/e2e/certs"
    t.openvpn.statusFile = "/work/e2e/srv{i}.status"
    return t
}

@Suite struct ServerConfigTests {
    @Test(arguments: [0, 1])
    func serverHasTheProvenDirectives(index: Int) throws {
        let text = try OpenVPNConfig.server(topology: labTopology(), index: index)
        let d = directives(text)
        for expected in [
            "mode server", "tls-server", "dev tap0", "dev-type tap", "proto tcp6-server", "port 1194",
            "client-to-client", "duplicate-cn", "keepalive 2 6", "ca /work/e2e/certs/ca.crt",
            "cert /work/e2e/certs/server.crt", "key /work/e2e/certs/server.key", "dh none",
            "tls-auth /work/e2e/certs/ta.key 0", "auth SHA256", "data-ciphers AES-256-GCM", "disable-dco",
            "script-security 2", "up \"/bin/sh -c '/sbin/ip link set dev $1 up' --\"",
            "status /work/e2e/srv\(index).status 10", "status-version 2", "verb 3",
        ] {
            #expect(d.contains(expected), "missing line: \(expected)")
        }
    }

    @Test func serverHandsOutNoAddressesAndHasNoPersistTun() throws {
        let k = keywords(try OpenVPNConfig.server(topology: Topology(), index: 0))
        for forbidden in [
            "persist-tun", "server", "server-ipv6", "server-bridge", "ifconfig-pool", "ifconfig", "client",
            "http-proxy",
        ] {
            #expect(!k.contains(forbidden), "unexpected directive: \(forbidden)")
        }
    }

    @Test func serverDefaultsAreVpn2s() throws {
        let d = directives(try OpenVPNConfig.server(topology: Topology(), index: 1))
        #expect(d.contains("keepalive 10 30"))
        #expect(d.contains("port 1194"))
        #expect(d.contains("ca /srv/secrets/ca.crt"))
        #expect(d.contains("status /srv/status/openvpn-1.status 10"))
    }

    @Test func eachDirectiveAppearsOnce() throws {
        let k = keywords(try OpenVPNConfig.server(topology: Topology(), index: 0))
        #expect(Set(k).count == k.count)
    }

    @Test(arguments: [-1, 2, 9])
    func serverIndexOutOfRange(index: Int) {
        #expect(throws: HAVPNError(.outOfRange, "")) { try OpenVPNConfig.server(topology: Topology(), index: index) }
    }
}

@Suite struct ClientConfigTests {
    @Test(arguments: [Role.apiserver, Role.shoot], [0, 1])
    func clientHasTheProvenDirectives(role: Role, server: Int) throws {
        let pod = role == .apiserver ? 7 : 1
        let text = try OpenVPNConfig.client(topology: labTopology(), role: role, podIndex: pod, server: server)
        let d = directives(text)
        let cn = role == .apiserver ? "vpn-seed-client" : "vpn-shoot-client"
        for expected in [
            "client", "dev tap\(server)", "dev-type tap", "proto tcp-client", "remote fd00:100::1\(server) 1194",
            "nobind", "connect-retry 1 5", "remote-cert-tls server", "ca /work/e2e/certs/ca.crt",
            "cert /work/e2e/certs/\(cn).crt", "key /work/e2e/certs/\(cn).key", "tls-auth /work/e2e/certs/ta.key 1",
            "auth SHA256", "data-ciphers AES-256-GCM", "auth-nocache", "disable-dco",
            "pull-filter ignore \"ifconfig-ipv6\"", "verb 3",
        ] {
            #expect(d.contains(expected), "missing line: \(expected)")
        }
        // exactly one dev line, for the right tap
        #expect(d.filter { $0.hasPrefix("dev ") } == ["dev tap\(server)"])
    }

    @Test(arguments: [Role.apiserver, Role.shoot], [0, 1])
    func clientNeverSetsPersistTunAndExplainsWhy(role: Role, server: Int) throws {
        let pod = role == .apiserver ? 1 : 0
        let text = try OpenVPNConfig.client(topology: Topology(), role: role, podIndex: pod, server: server)
        #expect(!keywords(text).contains("persist-tun"))
        let comments = lines(text).filter { $0.hasPrefix("#") }.joined(separator: " ")
        #expect(comments.contains("persist-tun is deliberately NOT set"))
        #expect(comments.contains("carrier"))
    }

    @Test(arguments: [0, 1])
    func apiserverClientDialsDirectly(server: Int) throws {
        let k = keywords(
            try OpenVPNConfig.client(topology: labTopology(), role: .apiserver, podIndex: 1, server: server)
        )
        #expect(!k.contains("http-proxy"))
        #expect(!k.contains("http-proxy-option"))
    }

    @Test(arguments: [0, 1])
    func shootClientDialsThroughTheProxyWithItsHeader(server: Int) throws {
        let d = directives(try OpenVPNConfig.client(topology: labTopology(), role: .shoot, podIndex: 0, server: server))
        #expect(
            d.filter { $0.hasPrefix("http-proxy") } == [
                "http-proxy fd00:100::40 8443",
                "http-proxy-option CUSTOM-HEADER X-Gardener-Destination outbound|1194||vpn-seed-server-\(server).shoot--e2e--lab.svc.cluster.local",
            ]
        )
    }

    @Test func headerSubstitutionReplacesEveryPlaceholder() throws {
        var t = Topology()
        t.openvpn.proxyHeader = "X-Route"
        t.openvpn.proxyHeaderValue = "s{i}-and-{i}"
        t.openvpn.serverHost = "srv-{i}.ns"
        t.servers = 4
        let d = directives(try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 1, server: 3))
        #expect(d.contains("http-proxy-option CUSTOM-HEADER X-Route s3-and-3"))
        #expect(d.contains("remote srv-3.ns 1194"))
        #expect(d.contains("dev tap3"))
        #expect(!d.joined().contains("{i}"))
    }

    @Test func defaultShootHeaderIsGardeners() throws {
        let d = directives(try OpenVPNConfig.client(topology: Topology(), role: .shoot, podIndex: 0, server: 1))
        #expect(d.contains("http-proxy vpn-seed-server 8443"))
        #expect(
            d.contains(
                "http-proxy-option CUSTOM-HEADER X-Gardener-Destination outbound|1194||vpn-seed-server-1.shoot--project--name.svc.cluster.local"
            )
        )
        #expect(d.contains("remote vpn-seed-server-1 1194"))
    }

    @Test func tapPrefixAndProtocolAreHonoured() throws {
        var t = Topology()
        t.devices.tapPrefix = "vpntap"
        t.openvpn.clientProtocol = "tcp6-client"
        let d = directives(try OpenVPNConfig.client(topology: t, role: .apiserver, podIndex: 1, server: 1))
        #expect(d.contains("dev vpntap1"))
        #expect(d.contains("proto tcp6-client"))
    }

    @Test func argumentsWithSpacesAreQuoted() throws {
        var t = Topology()
        t.openvpn.secretsDir = "/srv/my secrets"
        let d = directives(try OpenVPNConfig.client(topology: t, role: .apiserver, podIndex: 1, server: 0))
        #expect(d.contains("ca \"/srv/my secrets/ca.crt\""))
        #expect(d.contains("tls-auth \"/srv/my secrets/ta.key\" 1"))
        #expect(OpenVPNConfig.quote("a\"b\\c d") == "\"a\\\"b\\\\c d\"")
    }

    @Test func roleServerHasNoClientConfig() {
        #expect(throws: HAVPNError(.usage, "")) {
            try OpenVPNConfig.client(topology: Topology(), role: .server, podIndex: 0, server: 0)
        }
    }

    @Test func podIndexIsValidated() {
        #expect(throws: HAVPNError(.invalidIdentity, "")) {
            try OpenVPNConfig.client(topology: Topology(), role: .shoot, podIndex: 2, server: 0)
        }
        #expect(throws: HAVPNError(.invalidIdentity, "")) {
            try OpenVPNConfig.client(topology: Topology(), role: .apiserver, podIndex: 0, server: 0)
        }
    }

    @Test func tapNameLongerThanIFNAMSIZIsRejected() {
        var t = Topology()
        t.devices.tapPrefix = "averyverylongtap"
        #expect(throws: HAVPNError(.nameTooLong, "")) {
            try OpenVPNConfig.client(topology: t, role: .apiserver, podIndex: 1, server: 0)
        }
    }
}

@Suite struct ValidationTests {
    @Test func everyRenderedLineFitsOpenvpnsLimit() throws {
        let t = labTopology()
        var all = [try OpenVPNConfig.server(topology: t, index: 0), try OpenVPNConfig.server(topology: t, index: 1)]
        for s in 0..<2 {
            all.append(try OpenVPNConfig.client(topology: t, role: .apiserver, podIndex: 0xffff, server: s))
            all.append(try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 1, server: s))
        }
        for text in all {
            for l in lines(text) { #expect(l.utf8.count <= 256, "too long: \(l)") }
            #expect(text.hasSuffix("\n"))
        }
    }

    @Test func tooLongLineIsAnErrorNotATruncation() {
        var t = Topology()
        t.openvpn.proxyHeaderValue = String(repeating: "x", count: 240) + "{i}"
        #expect(throws: HAVPNError(.invalidValue, "")) {
            try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 0, server: 0)
        }
        // the apiserver client does not use the header, so it still renders
        #expect(throws: Never.self) { try OpenVPNConfig.client(topology: t, role: .apiserver, podIndex: 1, server: 0) }
    }

    @Test(arguments: ["a\nmanagement 0.0.0.0 7505", "x\ry", "tab\tok\u{0}"])
    func lineBreaksCannotInjectDirectives(value: String) {
        var t = Topology()
        t.openvpn.proxyHeaderValue = value
        #expect(throws: HAVPNError(.invalidValue, "")) {
            try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 0, server: 0)
        }
    }

    @Test(arguments: ["10", "0 30", "30 10", "a b", "10 30 5", ""])
    func keepaliveMustBeTwoIncreasingNumbers(value: String) {
        var t = Topology()
        t.openvpn.keepalive = value
        #expect(throws: HAVPNError(.invalidValue, "")) { try OpenVPNConfig.server(topology: t, index: 0) }
    }

    @Test func badHeaderNameProtocolPortVerbosity() {
        var t = Topology()
        t.openvpn.proxyHeader = "X Bad"
        #expect(throws: HAVPNError(.invalidValue, "")) {
            try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 0, server: 0)
        }
        t = Topology()
        t.openvpn.clientProtocol = "udp"
        #expect(throws: HAVPNError(.invalidValue, "")) {
            try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 0, server: 0)
        }
        t = Topology()
        t.openvpn.serverPort = 70000
        #expect(throws: HAVPNError(.outOfRange, "")) { try OpenVPNConfig.server(topology: t, index: 0) }
        t = Topology()
        t.openvpn.verbosity = 12
        #expect(throws: HAVPNError(.outOfRange, "")) { try OpenVPNConfig.server(topology: t, index: 0) }
    }

    @Test func renderingIsDeterministic() throws {
        let t = labTopology()
        #expect(try OpenVPNConfig.server(topology: t, index: 1) == OpenVPNConfig.server(topology: t, index: 1))
        #expect(
            try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 1, server: 0)
                == OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 1, server: 0)
        )
    }
}
