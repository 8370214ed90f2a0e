import HAVPNControl
import HAVPNModel
import Testing

private let bondNet = IPNetwork("fd8f:6d53:b97a:1::/104")!
private func apiserver(_ i: Int) -> IPv6Address { IPv6Address("fd8f:6d53:b97a:1::a:\(String(i, radix: 16))")! }
private let ip1 = IPAddress("10.0.0.1")!
private let ip2 = IPAddress("10.0.0.2")!

private func announce(_ bond: IPv6Address, seq: UInt64, _ ips: [IPAddress]) -> [UInt8] {
    AnnouncementCodec.encode(
        HAVPNAnnouncement(kind: .announce, sequence: seq, lifetimeMilliseconds: 0, bondAddress: bond, podIPs: ips),
        key: nil
    )
}

@Suite struct ApiserverPeerSetTests {
    static let configuration = TunnelRegistry.Configuration(bondNetwork: bondNet, defaultLifetime: .seconds(60))

    /// A restarted side-car keeps the tunnels it found for one lifetime, then only what was announced.
    @Test func bootstrapPeersLastOneLifetime() {
        let kept = ApiserverPeer(bondAddress: apiserver(7), podIPs: [ip1])
        var set = ApiserverPeerSet(configuration: Self.configuration, bootstrap: [kept], at: .zero)
        #expect(set.state(at: .zero) == .bootstrapping(until: .ms(60_000)))
        #expect(set.peers == [kept])
        #expect(set.nextDeadline == .ms(60_000))
        #expect(!set.tick(at: .ms(59_999)).changed)
        #expect(set.tick(at: .ms(60_000)).changed)
        #expect(set.peers.isEmpty)
        #expect(set.state(at: .ms(60_000)) == .learned)
        #expect(set.nextDeadline == nil)
    }

    /// A peer announced during the bootstrap is the registry's: it outlives the bootstrap, with the
    /// announced pod IPs, and expires a lifetime after its last announcement.
    @Test func anAnnouncedPeerReplacesItsBootstrapEntry() {
        let a = apiserver(7)
        var set = ApiserverPeerSet(
            configuration: Self.configuration,
            bootstrap: [ApiserverPeer(bondAddress: a, podIPs: [ip1])],
            at: .zero
        )
        #expect(
            set.announcement(from: .v6(a), device: "bond0", payload: announce(a, seq: 1, [ip2]), at: .ms(30_000))
                .changed
        )
        #expect(set.peers == [ApiserverPeer(bondAddress: a, podIPs: [ip2])])
        _ = set.tick(at: .ms(60_000))  // the bootstrap ends; the announced peer stays
        #expect(set.peers == [ApiserverPeer(bondAddress: a, podIPs: [ip2])])
        #expect(set.nextDeadline == .ms(90_000))
        #expect(set.tick(at: .ms(90_000)).changed)
        #expect(set.peers.isEmpty)
    }

    /// A reload that rebuilds the registry keeps what was known, for one lifetime from the reload.
    @Test func aRebuildBootstrapsTheNewRegistry() {
        let a = apiserver(7)
        var set = ApiserverPeerSet(configuration: Self.configuration, bootstrap: [], at: .zero)
        _ = set.announcement(from: .v6(a), device: "bond0", payload: announce(a, seq: 1, [ip1]), at: .ms(1_000))
        var topology = Topology()
        topology.transport.network = IPNetwork("fd8f:6d53:b97a:1::/96")!
        set.rebuild(configuration: Self.configuration, plan: AddressPlan(topology: topology), at: .ms(10_000))
        #expect(set.registry.peers.isEmpty)
        #expect(set.peers == [ApiserverPeer(bondAddress: a, podIPs: [ip1])])
        #expect(set.state(at: .ms(10_000)) == .bootstrapping(until: .ms(70_000)))
    }
}
