import HAVPNControl
import HAVPNModel
import Testing

private let bondNet = IPNetwork("fd8f:6d53:b97a:1::/104")!
private func apiserver(_ i: Int) -> IPv6Address { IPv6Address("fd8f:6d53:b97a:1::a:\(String(i, radix: 16))")! }
private let ip1 = IPAddress("10.0.0.1")!
private let ip2 = IPAddress("10.0.0.2")!

private func msg(_ bond: IPv6Address, seq: UInt64, _ ips: [IPAddress], kind: HAVPNAnnouncement.Kind = .announce, lifetimeMs: UInt32 = 0, key: [UInt8]? = nil) -> [UInt8] {
    AnnouncementCodec.encode(
        HAVPNAnnouncement(kind: kind, sequence: seq, lifetimeMilliseconds: lifetimeMs, bondAddress: bond, podIPs: ips), key: key)
}

@Suite struct TunnelRegistryTests {
    var r = TunnelRegistry(configuration: .init(bondNetwork: bondNet, defaultLifetime: .seconds(60), maxPeers: 2))

    @Test mutating func announceRefreshReplaceWithdraw() {
        let a = apiserver(7)
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 1, [ip1]), at: .zero) == .init(changed: true))
        #expect(r.peers == [ApiserverPeer(bondAddress: a, podIPs: [ip1])])
        // Same content: refreshed, no change.
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 2, [ip1]), at: .ms(1_000)) == .init(changed: false))
        // Pod IP change replaces the entry (vpn2 #136).
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 3, [ip2]), at: .ms(2_000)).changed)
        #expect(r.peers == [ApiserverPeer(bondAddress: a, podIPs: [ip2])])
        // Replay of an old sequence.
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 3, [ip1]), at: .ms(2_500)) == .init(changed: false, rejection: .replay))
        // Withdraw removes at once; afterwards a new, lower sequence space is accepted.
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 4, [], kind: .withdraw), at: .ms(3_000)).changed)
        #expect(r.peers.isEmpty)
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 1, [ip1]), at: .ms(4_000)).changed)
        #expect(r.acceptedCount == 5 && r.rejections == [.replay: 1])
        // A changed pod IP and one stale message with the old one are not a conflict.
        #expect(r.conflicts(at: .ms(4_000)).isEmpty)
    }

    /// Two havpn senders claim one bond address (their derived indices collided). The one with
    /// the higher sequence space keeps the tunnel; the other's announcements are replays with
    /// other pod IPs, and the third of them reports the conflict, once.
    @Test mutating func twoHAVPNSendersOfOneBondAddressAreAConflict() {
        let a = apiserver(0x2a)
        var reported: [TunnelRegistry.AddressConflict] = []
        for i in 0..<6 {
            let t = Instant.ms(Int64(i) * 1_000)
            for (seq, ip) in [(UInt64(5_000 + i), ip1), (UInt64(1_000 + i), ip2)] {
                if let c = r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: seq, [ip]), at: t).conflict { reported.append(c) }
            }
        }
        let expected = TunnelRegistry.AddressConflict(bondAddress: a, podIPs: [ip1], rivalPodIPs: [ip2])
        #expect(reported == [expected])
        #expect(r.peers == [ApiserverPeer(bondAddress: a, podIPs: [ip1])])
        #expect(r.conflicts(at: .ms(6_000)) == [expected])
        // The second sender stops: the conflict clears a lifetime after its last claim.
        _ = r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 6_000, [ip1]), at: .ms(60_000))
        #expect(r.conflicts(at: .ms(64_999)) == [expected])
        #expect(r.conflicts(at: .ms(65_000)).isEmpty)
    }

    /// vpn2's format has no sequence: two senders make the entry alternate.
    @Test mutating func alternatingVPN2SendersAreAConflict() {
        let a = apiserver(3)
        var steps: [TunnelRegistry.Step] = []
        for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.2"].enumerated() {
            steps.append(r.announcement(from: .v6(a), device: "bond0", payload: Array(ip.utf8), at: .ms(Int64(i) * 500)))
        }
        #expect(steps.map { $0.conflict != nil } == [false, false, false, true])
        #expect(r.conflicts(at: .ms(2_000)) == [.init(bondAddress: a, podIPs: [ip2], rivalPodIPs: [ip1])])
    }

    @Test mutating func expiryAfterLifetime() {
        let a = apiserver(1), b = apiserver(2)
        _ = r.announcement(from: .v6(a), device: "bond0", payload: Array("10.0.0.1".utf8), at: .zero)  // vpn2: default 60 s
        _ = r.announcement(from: .v6(b), device: "bond0", payload: msg(b, seq: 1, [ip2], lifetimeMs: 5_000), at: .zero)
        #expect(r.nextExpiry == .ms(5_000))
        #expect(r.tick(at: .ms(4_999)) == .init(changed: false))
        #expect(r.tick(at: .ms(5_000)) == .init(changed: true))
        #expect(r.peers.map(\.bondAddress) == [a])
        #expect(r.tick(at: .ms(60_000)).changed && r.peers.isEmpty && r.nextExpiry == nil)
        // Expired: a lower sequence is accepted again (new sequence space).
        #expect(r.announcement(from: .v6(b), device: "bond0", payload: msg(b, seq: 0, [ip2]), at: .ms(61_000)).changed)
    }

    @Test mutating func admissionRulesCountByReason() {
        let a = apiserver(3)
        let cases: [(IPAddress, String, [UInt8], AnnouncementRejection)] = [
            (.v6(a), "eth0", msg(a, seq: 1, [ip1]), .wrongDevice),
            (IPAddress("10.0.0.9")!, "bond0", msg(a, seq: 1, [ip1]), .sourceOutsideBondNetwork),
            (IPAddress("fd8f:6d53:b97a:2::a:3")!, "bond0", msg(a, seq: 1, [ip1]), .sourceOutsideBondNetwork),
            (IPAddress("fd8f:6d53:b97a:1::b:0")!, "bond0", msg(a, seq: 1, [ip1]), .sourceNotApiserver),
            (IPAddress("fd8f:6d53:b97a:1::a:0")!, "bond0", msg(a, seq: 1, [ip1]), .sourceNotApiserver),
            (.v6(apiserver(4)), "bond0", msg(a, seq: 1, [ip1]), .sourceMismatch),
            (.v6(a), "bond0", Array("nonsense".utf8), .badAddress),
            (.v6(a), "bond0", Array("HAVX!".utf8), .badMagic),
        ]
        for (src, dev, payload, reason) in cases {
            #expect(r.announcement(from: src, device: dev, payload: payload, at: .zero) == .init(changed: false, rejection: reason), "\(reason)")
        }
        #expect(r.peers.isEmpty && r.acceptedCount == 0)
        #expect(r.rejections[.sourceOutsideBondNetwork] == 2 && r.rejections[.sourceNotApiserver] == 2)
        #expect(r.rejections.values.reduce(0, +) == cases.count)
    }

    @Test mutating func capacityIsEnforcedForNewPeersOnly() {
        for i in 1...2 { _ = r.announcement(from: .v6(apiserver(i)), device: "bond0", payload: msg(apiserver(i), seq: 1, [IPAddress("10.0.0.\(i)")!]), at: .zero) }
        let third = r.announcement(from: .v6(apiserver(3)), device: "bond0", payload: msg(apiserver(3), seq: 1, [IPAddress("10.0.0.3")!]), at: .zero)
        #expect(third == .init(changed: false, rejection: .overCapacity))
        #expect(r.announcement(from: .v6(apiserver(2)), device: "bond0", payload: msg(apiserver(2), seq: 2, [IPAddress("10.0.0.9")!]), at: .zero).changed)
        #expect(r.peers.count == 2)
    }

    @Test mutating func podIPMovesToTheNewestClaimant() {
        let a = apiserver(1), b = apiserver(2)
        _ = r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 1, [ip1]), at: .zero)
        #expect(r.announcement(from: .v6(b), device: "bond0", payload: msg(b, seq: 1, [ip1, ip1]), at: .ms(10)).changed)
        #expect(r.peers == [ApiserverPeer(bondAddress: b, podIPs: [ip1])])
    }

    @Test func keyRequiresAuthenticatedHAVPN() {
        let k = Array("k".utf8)
        var r = TunnelRegistry(configuration: .init(bondNetwork: bondNet, key: AnnouncementKey(k)))
        let a = apiserver(5)
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: Array("10.0.0.1".utf8), at: .zero).rejection == .authRequired)
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 1, [ip1]), at: .zero).rejection == .authRequired)
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 1, [ip1], key: Array("x".utf8)), at: .zero).rejection == .authFailed)
        #expect(r.announcement(from: .v6(a), device: "bond0", payload: msg(a, seq: 1, [ip1], key: k), at: .zero) == .init(changed: true))
    }

    @Test func formatAcceptanceAndTopologyDefaults() {
        var r = TunnelRegistry(configuration: .init(bondNetwork: bondNet, acceptedFormats: [.havpn]))
        #expect(r.announcement(from: .v6(apiserver(1)), device: "bond0", payload: Array("10.0.0.1".utf8), at: .zero).rejection == .formatNotAccepted)
        let c = TunnelRegistry.Configuration(topology: Topology(), key: nil)
        #expect(c.bondNetwork == bondNet && c.bondDevice == "bond0" && c.maxPeers == 64)
        // Only the configured format: a plain-text vpn2 packet must not create a tunnel where havpn's is configured.
        #expect(c.acceptedFormats == [.havpn] && c.defaultLifetime == Topology().announcements.lifetime)
        var vpn2 = Topology()
        vpn2.announcements.format = .vpn2
        #expect(TunnelRegistry.Configuration(topology: vpn2, key: nil).acceptedFormats == [.vpn2])
    }
}
