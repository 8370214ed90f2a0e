import Foundation
import HAVPNModel
import Testing

@testable import HAVPNOpenVPN

/// Single mode's configs: golden files rendered from `examples/non-ha.yaml`, plus the rules they follow.
@Suite struct SingleModeConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static func example() throws -> Topology {
        try TopologyDecoder.decode(yaml: text("examples/non-ha.yaml"), file: "non-ha.yaml")
    }

    static var single: Topology {
        var t = Topology()
        t.mode = .single
        t.servers = 1
        t.shootClients = 1
        t.networks.seedPods = [IPNetwork("10.1.0.0/16")!]
        return t
    }

    private func directives(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    @Test func serverMatchesItsGoldenFile() throws {
        let golden = try Self.text("Tests/Fixtures/openvpn/non-ha-server.conf")
        #expect(try OpenVPNConfig.server(topology: Self.example(), index: 0) == golden)
    }

    @Test func clientConfigDirEntryMatchesItsGoldenFile() throws {
        let golden = try Self.text("Tests/Fixtures/openvpn/non-ha-ccd-vpn-shoot-client.conf")
        #expect(try OpenVPNConfig.clientConfigDirEntry(topology: Self.example()) == golden)
    }

    @Test func shootClientMatchesItsGoldenFile() throws {
        let golden = try Self.text("Tests/Fixtures/openvpn/non-ha-shoot-client.conf")
        #expect(try OpenVPNConfig.client(topology: Self.example(), role: .shoot, podIndex: 0, server: 0) == golden)
    }

    /// havpn owns the routes through tun0: openvpn gets no route, push or hook lines, and no HA switch.
    @Test func noRoutesPushesHooksOrSwitching() throws {
        let t = try Self.example()
        for text in [
            try OpenVPNConfig.server(topology: t, index: 0),
            try OpenVPNConfig.client(topology: t, role: .shoot, podIndex: 0, server: 0),
        ] {
            let keywords = directives(text).map { String($0.split(separator: " ")[0]) }
            for forbidden in [
                "route", "route-ipv6", "push", "up", "down", "script-security", "client-to-client", "duplicate-cn",
                "persist-tun", "dev-type tap",
            ] {
                #expect(!keywords.contains(forbidden), "unexpected \(forbidden)")
            }
            #expect(directives(text).contains("dev tun0"))
            #expect(directives(text).contains("dev-type tun"))
        }
        let server = directives(try OpenVPNConfig.server(topology: t, index: 0))
        #expect(server.contains("topology subnet"))
        #expect(server.contains("server-ipv6 fd8f:6d53:b97a:1::/96"))
    }

    @Test func ipv6ShootNetworksAreIrouteIPv6AndUndeclaredFamiliesAreLeftOut() throws {
        var t = Self.single
        t.ipFamilies = [.ipv6]
        t.networks.shoot.pods = [IPNetwork("fd00:10::/56")!]
        t.networks.shoot.services = [IPNetwork("fd00:11::/108")!]
        let entry = directives(try OpenVPNConfig.clientConfigDirEntry(topology: t))
        #expect(entry == ["iroute-ipv6 fd00:11::/108", "iroute-ipv6 fd00:10::/56"])
    }

    @Test(arguments: [
        (0, "0.0.0.0"), (8, "255.0.0.0"), (11, "255.224.0.0"), (13, "255.248.0.0"), (32, "255.255.255.255"),
    ])
    func netmasks(prefix: Int, mask: String) {
        #expect(OpenVPNConfig.netmask(prefixLength: prefix) == mask)
    }

    @Test func maxRoutesPerClientFollowsTheShootNetworksWithinBounds() {
        var t = Self.single
        t.networks.shoot.pods = [IPNetwork("10.0.0.0/24")!]
        t.networks.shoot.services = [IPNetwork("10.1.0.0/24")!]
        #expect(OpenVPNConfig.maxRoutesPerClient(t) == 512)
        t.networks.shoot.services = [IPNetwork("10.1.0.0/28")!]
        #expect(OpenVPNConfig.maxRoutesPerClient(t) == 272)
        t.networks.shoot.pods = [IPNetwork("10.0.0.0/30")!]
        #expect(OpenVPNConfig.maxRoutesPerClient(t) == 256)
        t.networks.shoot.pods = [IPNetwork("100.96.0.0/11")!]
        #expect(OpenVPNConfig.maxRoutesPerClient(t) == 1 << 20)
    }

    @Test func theApiserverHasNoClientAndHAHasNoClientConfigDirEntry() {
        #expect(throws: HAVPNError(.usage, "")) {
            try OpenVPNConfig.client(topology: Self.single, role: .apiserver, podIndex: 1, server: 0)
        }
        #expect(throws: HAVPNError(.usage, "")) { try OpenVPNConfig.clientConfigDirEntry(topology: Topology()) }
        #expect(throws: HAVPNError(.outOfRange, "")) { try OpenVPNConfig.server(topology: Self.single, index: 1) }
    }
}
