import Foundation
import HAVPNModel
import Testing

@Suite struct TopologyDecoderTests {
    private func decode(_ yaml: String) throws -> Topology {
        try TopologyDecoder.decode(yaml: yaml, file: "test.yaml")
    }

    private func decodeError(_ yaml: String) -> HAVPNError? {
        do {
            _ = try TopologyDecoder.decode(yaml: yaml, file: "test.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func minimalDocumentGetsAllDefaults() throws {
        #expect(try decode("apiVersion: havpn/v1\n") == Topology())
    }

    @Test func emptySectionsKeepDefaults() throws {
        let yaml = """
            apiVersion: havpn/v1
            transport: {}
            networks: {shoot: {}}
            bond: {}
            devices: {}
            timings: {}
            announcements: {}
            http: {}
            openvpn: {}
            apiservers: []
            """
        #expect(try decode(yaml) == Topology())
    }

    @Test func everyFieldIsRead() throws {
        let yaml = """
            apiVersion: havpn/v1
            transport: {network: "fd00:1:2:3::/96"}
            servers: 3
            shootClients: 4
            ipFamilies: [IPv6, IPv4]
            networks:
              shoot: {pods: [10.3.0.0/16], services: [10.4.0.0/16], nodes: [10.250.0.0/16, "fd00:a::/64"]}
              seedPods: [10.1.0.0/16]
            apiservers:
              - {index: 7, podIPs: [10.1.0.5, "fd00:20::5"]}
              - {index: 65535, podIPs: [10.1.0.6]}
            bond: {mode: balance-rr, miimon: 0, primary: 2, failOverMac: follow, useCarrier: false, numPeerNotif: 255}
            devices: {bond: vpnbond, tapPrefix: vtap, apiserverTunnelPrefix: kas-tnl, shootTunnelPrefix: shoot-tnl}
            mtu: 1400
            timings: {probeInterval: 1s, probeTimeout: 2s, unhealthyThreshold: 3, healthyThreshold: 2,
                      pathProbeInterval: 300ms, pathUnhealthyThreshold: 4, resyncInterval: 1m30s,
                      configPollInterval: 10s}
            announcements: {port: 5401, interval: 2s, format: vpn2, lifetime: 10m, keyFile: /etc/k, maxPeers: 8}
            http: {address: "::", port: 9090}
            openvpn: {proxyHost: gw.example, proxyPort: 443, serverHost: "s{i}", serverPort: 1195,
                      proxyHeader: X-Dest, proxyHeaderValue: "v{i}", keepalive: "5 20", secretsDir: /s}
            """
        let t = try decode(yaml)
        #expect(t.transport.network == IPNetwork("fd00:1:2:3::/96"))
        #expect(t.servers == 3)
        #expect(t.shootClients == 4)
        #expect(t.ipFamilies == [.ipv6, .ipv4])
        #expect(t.networks.shoot.pods == [IPNetwork("10.3.0.0/16")!])
        #expect(t.networks.shoot.services == [IPNetwork("10.4.0.0/16")!])
        #expect(t.networks.shoot.nodes == [IPNetwork("10.250.0.0/16")!, IPNetwork("fd00:a::/64")!])
        #expect(t.networks.seedPods == [IPNetwork("10.1.0.0/16")!])
        #expect(
            t.apiservers == [
                .init(index: 7, podIPs: [IPAddress("10.1.0.5")!, IPAddress("fd00:20::5")!]),
                .init(index: 65535, podIPs: [IPAddress("10.1.0.6")!]),
            ]
        )
        #expect(t.bond.mode == .balanceRR)
        #expect(t.bond.miimon == 0)
        #expect(t.bond.primary == 2)
        #expect(t.bond.failOverMAC == .follow)
        #expect(t.bond.useCarrier == false)
        #expect(t.bond.numPeerNotif == 255)
        #expect(t.devices.bond == "vpnbond")
        #expect(t.devices.tapPrefix == "vtap")
        #expect(t.devices.apiserverTunnelPrefix == "kas-tnl")
        #expect(t.devices.shootTunnelPrefix == "shoot-tnl")
        #expect(t.mtu == 1400)
        #expect(t.timings.probeInterval == .seconds(1))
        #expect(t.timings.probeTimeout == .seconds(2))
        #expect(t.timings.unhealthyThreshold == 3)
        #expect(t.timings.healthyThreshold == 2)
        #expect(t.timings.pathProbeInterval == .milliseconds(300))
        #expect(t.timings.pathUnhealthyThreshold == 4)
        #expect(t.timings.resyncInterval == .seconds(90))
        #expect(t.timings.configPollInterval == .seconds(10))
        #expect(t.announcements.port == 5401)
        #expect(t.announcements.interval == .seconds(2))
        #expect(t.announcements.format == .vpn2)
        #expect(t.announcements.lifetime == .seconds(600))
        #expect(t.announcements.keyFile == "/etc/k")
        #expect(t.announcements.maxPeers == 8)
        #expect(t.http.address == "::")
        #expect(t.http.port == 9090)
        #expect(t.openvpn.proxyHost == "gw.example")
        #expect(t.openvpn.proxyPort == 443)
        #expect(t.openvpn.serverHost == "s{i}")
        #expect(t.openvpn.serverPort == 1195)
        #expect(t.openvpn.proxyHeader == "X-Dest")
        #expect(t.openvpn.proxyHeaderValue == "v{i}")
        #expect(t.openvpn.keepalive == "5 20")
        #expect(t.openvpn.secretsDir == "/s")
    }

    @Test func nullClearsOptionalValues() throws {
        let yaml = """
            apiVersion: havpn/v1
            bond: {primary: null}
            mtu: ~
            announcements: {keyFile: null}
            """
        let t = try decode(yaml)
        #expect(t.bond.primary == nil)
        #expect(t.mtu == nil)
        #expect(t.announcements.keyFile == nil)
    }

    @Test func longestAllowedDeviceNamesFit() throws {
        // vpn2's own shoot tunnel names are exactly 15 bytes: bond0ip6tnl + 4 hex digits.
        let yaml = """
            apiVersion: havpn/v1
            devices: {bond: bond0123456789a, tapPrefix: tap01234567890, shootTunnelPrefix: bond0ip6tnl}
            """
        #expect(try decode(yaml).devices.bond == "bond0123456789a")
    }

    @Test func errorPointsAtLineColumnAndKeyPath() throws {
        let yaml = """
            apiVersion: havpn/v1
            networks:
              shoot:
                pods: [100.96.0.0/11, 10.1.0.5/16]
            """
        let error = try #require(decodeError(yaml))
        #expect(error.code == .invalidValue)
        #expect(error.location == SourceLocation(file: "test.yaml", line: 4, column: 27))
        #expect(error.keyPath == "networks.shoot.pods[1]")
        #expect(error.description.contains("the network address is 10.1.0.0/16"))
    }

    @Test func firstErrorInFileOrderWins() throws {
        let yaml = """
            apiVersion: havpn/v1
            servers: 0
            shootClients: 0
            """
        let error = try #require(decodeError(yaml))
        #expect(error.keyPath == "servers")
    }

    @Test func versionIsCheckedBeforeOtherKeys() throws {
        let error = try #require(decodeError("servers: lots\napiVersion: havpn/v2\n"))
        #expect(error.code == .unsupportedVersion)
    }

    @Test func octalLookingIntegersAreRejected() throws {
        let error = try #require(decodeError("apiVersion: havpn/v1\nservers: 010\n"))
        #expect(error.code == .invalidValue)
        #expect(error.keyPath == "servers")
    }

    @Test func examplesAndGoodFixturesDecode() throws {
        let examples = RepositoryFiles.examples
        let good = RepositoryFiles.files(
            in: RepositoryFiles.fixtures.appendingPathComponent("good"),
            withExtension: "yaml"
        )
        #expect(examples.count >= 4)
        #expect(good.count >= 3)
        for url in examples + good {
            let name = url.lastPathComponent
            #expect(throws: Never.self, "\(name)") {
                try TopologyDecoder.decode(yaml: RepositoryFiles.text(url), file: name)
            }
        }
    }

    @Test func exampleShapes() throws {
        func example(_ name: String) throws -> Topology {
            let url = RepositoryFiles.root.appendingPathComponent("examples/\(name)")
            return try TopologyDecoder.decode(yaml: RepositoryFiles.text(url), file: name)
        }
        let ha = try example("ha-2x2-ipv4.yaml")
        #expect((ha.servers, ha.shootClients, ha.ipFamilies) == (2, 2, [.ipv4]))
        #expect(ha.apiservers.map(\.index) == [1])
        let dual = try example("dual-stack.yaml")
        #expect(dual.ipFamilies == [.ipv4, .ipv6])
        #expect(Set(dual.networks.shoot.all.map(\.family)) == [.ipv4, .ipv6])
        let three = try example("three-servers.yaml")
        #expect((three.servers, three.shootClients) == (3, 3))
        let v6 = try example("ipv6-only.yaml")
        #expect(v6.ipFamilies == [.ipv6])
        #expect(v6.networks.shoot.all.allSatisfy { $0.family == .ipv6 })
    }
}
