import HAVPNModel
import Testing

@testable import HAVPNService

/// With overlapping seed and shoot networks the kube-apiserver announces its pod IP as the 241/8
/// stand-in, as vpn2's path-controller does: a vpn2 tunnel-controller routes what it is told.
struct NetmapAnnouncementTests {
    static func payloads(seedPods: String) throws -> [String] {
        let yaml = Fixture.exampleYAML(replacing: "format: havpn", with: "format: vpn2")
            .replacingOccurrences(of: "seedPods: [10.1.0.0/16]", with: "seedPods: [\(seedPods)]")
            .replacingOccurrences(of: "podIPs: [10.1.0.5]", with: "podIPs: [10.250.0.5]")
        let sim = try Simulation(role: .apiserver, index: 1, yaml: yaml, podIPs: [IPAddress("10.250.0.5")!])
        sim.start()
        return sim.effects.compactMap {
            if case .sendAnnouncement(_, let payload) = $0.effect {
                String(decoding: payload, as: UTF8.self)
            } else {
                nil
            }
        }
    }

    @Test func overlappingSeedPodsAnnounceTheStandIn() throws {
        // The example's shoot nodes are 10.250.0.0/16.
        #expect(try Self.payloads(seedPods: "10.250.0.0/16") == ["241.250.0.5", "241.250.0.5"])
    }

    @Test func withoutOverlapThePodIPItself() throws {
        #expect(try Self.payloads(seedPods: "10.0.0.0/16") == ["10.250.0.5", "10.250.0.5"])
    }
}
