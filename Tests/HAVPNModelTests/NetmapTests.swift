import HAVPNModel
import Testing

/// The NETMAP plan of overlapping seed and shoot networks (vpn2's ranges: seed pods 241/8, shoot nodes
/// 242/8, services 243/8, pods 244/8).
struct NetmapTests {
    static func topology(
        pods: [String] = ["100.96.0.0/11"],
        services: [String] = ["100.64.0.0/13"],
        nodes: [String] = [],
        seedPods: [String],
        families: [IPFamily] = [.ipv4]
    ) -> Topology {
        var t = Topology()
        t.ipFamilies = families
        t.networks.shoot.pods = pods.map { IPNetwork($0)! }
        t.networks.shoot.services = services.map { IPNetwork($0)! }
        t.networks.shoot.nodes = nodes.map { IPNetwork($0)! }
        t.networks.seedPods = seedPods.map { IPNetwork($0)! }
        return t
    }

    static func table(_ n: Netmap) -> [String] { n.mappings.map { "\($0.keyPath) \($0.real) \($0.mapped)" } }

    @Test func nothingIsMappedWithoutOverlap() throws {
        let n = try Netmap(topology: Self.topology(seedPods: ["10.1.0.0/16"]))
        #expect(!n.isActive && n.mappings.isEmpty)
        #expect(n.mapped(IPAddress("10.1.0.5")!) == IPAddress("10.1.0.5")!)
    }

    @Test func overlapMapsEveryIPv4NetworkIntoItsRange() throws {
        let n = try Netmap(
            topology: Self.topology(
                pods: ["10.0.0.0/12", "10.64.0.0/16"],
                services: ["10.96.0.0/16"],
                nodes: ["10.250.0.0/16"],
                seedPods: ["10.0.0.0/16", "10.250.0.0/16"]
            )
        )
        #expect(
            Self.table(n) == [
                "networks.seedPods[0] 10.0.0.0/16 241.0.0.0/16",
                "networks.seedPods[1] 10.250.0.0/16 241.250.0.0/16",
                "networks.shoot.nodes[0] 10.250.0.0/16 242.0.0.0/16",
                "networks.shoot.services[0] 10.96.0.0/16 243.0.0.0/16",
                "networks.shoot.pods[0] 10.0.0.0/12 244.0.0.0/12",
                "networks.shoot.pods[1] 10.64.0.0/16 244.16.0.0/16",
            ]
        )
        #expect(n.mapped(IPAddress("10.0.5.3")!) == IPAddress("241.0.5.3")!, "vpn2 NetmapIP keeps the low 24 bits")
        #expect(n.mapped(IPAddress("10.251.0.1")!) == IPAddress("10.251.0.1")!, "not a seed pod")
        #expect(n.mapped(IPNetwork("10.64.0.0/16")!) == IPNetwork("244.16.0.0/16")!)
    }

    /// vpn2's own example (`ShootNetworksForNetmap`): largest first, each in the next aligned block.
    @Test func packingMatchesVpn2() throws {
        let n = try Netmap(
            topology: Self.topology(
                nodes: ["10.99.14.0/24", "10.100.0.0/16", "10.99.15.0/24"],
                seedPods: ["10.99.0.0/16"]
            )
        )
        #expect(
            n.shoot.filter { $0.kind == .shootNodes }.map { "\($0.real) \($0.mapped)" } == [
                "10.99.14.0/24 242.1.0.0/24", "10.100.0.0/16 242.0.0.0/16", "10.99.15.0/24 242.1.1.0/24",
            ]
        )
        #expect(n.shoot.map(\.kind) == [.shootNodes, .shootNodes, .shootNodes, .shootServices, .shootPods])
    }

    @Test func ipv6IsNeverMapped() throws {
        let n = try Netmap(
            topology: Self.topology(
                pods: ["10.0.0.0/16", "fd00:10::/64"],
                services: ["fd00:20::/112"],
                seedPods: ["10.0.0.0/16", "fd00:99::/48"],
                families: [.ipv4, .ipv6]
            )
        )
        #expect(n.mappings.allSatisfy { $0.real.family == .ipv4 })
        #expect(n.mapped(IPNetwork("fd00:10::/64")!) == IPNetwork("fd00:10::/64")!)
        #expect(n.mapped(IPAddress("fd00:99::5")!) == IPAddress("fd00:99::5")!)
    }

    @Test(arguments: [
        (["10.0.0.0/7"], ["10.1.0.0/16"], "networks.shoot.pods[0]", "10.0.0.0/7 is larger than 244.0.0.0/8"),
        (["10.0.0.0/8", "172.0.0.0/9"], ["10.1.0.0/16"], "networks.shoot.pods[1]", "172.0.0.0/9 does not fit"),
        (["10.1.0.0/16"], ["10.1.0.0/16", "11.1.0.0/16"], "networks.seedPods[1]", "maps onto 241.1.0.0/16"),
        (["100.96.0.0/11"], ["100.0.0.0/7"], "networks.seedPods[0]", "100.0.0.0/7 is larger than 241.0.0.0/8"),
        (["10.1.0.0/16", "244.1.0.0/16"], ["10.1.0.0/16"], "networks.shoot.pods[1]", "overlaps 244.0.0.0/8"),
    ])
    func whatCannotBeMappedIsRejected(pods: [String], seed: [String], path: String, message: String) {
        #expect {
            try Netmap(topology: Self.topology(pods: pods, seedPods: seed))
        } throws: { error in
            guard let e = error as? HAVPNError else { return false }  // another error fails, not crashes
            return e.keyPath == path && e.message.contains(message) && !e.message.contains("\n")
        }
    }
}
