import HAVPNControl
import HAVPNModel
import Testing

private let me = IPv6Address("fd8f:6d53:b97a:1::a:7")!
private let shoot0 = IPv6Address("fd8f:6d53:b97a:1::b:0")!
private let shoot1 = IPv6Address("fd8f:6d53:b97a:1::b:1")!
private let pod = IPAddress("10.0.0.5")!

private func decoded(_ a: AnnouncementScheduler.Action) -> HAVPNAnnouncement? {
    guard case .send(_, let p) = a, case .success(.havpn(let m, _)) = AnnouncementCodec.decode(p) else { return nil }
    return m
}

@Suite struct AnnouncementSchedulerTests {
    @Test func periodicIncreasingSequencesAndWithdraw() {
        var s = AnnouncementScheduler(
            configuration: .init(bondAddress: me),
            targets: [shoot0, shoot1],
            podIPs: [pod],
            initialSequence: 1_000,
            at: .zero
        )
        let first = s.tick(at: .zero)
        #expect(first.count == 2 && first.map { decoded($0)?.sequence } == [1_000, 1_000])
        #expect(s.tick(at: .ms(999)).isEmpty && s.nextDeadline == .ms(1_000))
        #expect(s.tick(at: .ms(1_000)).compactMap(decoded).map(\.sequence) == [1_001, 1_001])
        // A late tick sends one round, not a burst.
        #expect(s.tick(at: .ms(5_500)).count == 2 && s.nextDeadline == .ms(6_500))
        // Pod IP change and new target: sent at once.
        let changed = s.setPodIPs([IPAddress("10.0.0.6")!], at: .ms(5_600)).compactMap(decoded)
        #expect(
            changed.count == 2 && changed.allSatisfy { $0.podIPs == [IPAddress("10.0.0.6")!] && $0.sequence == 1_003 }
        )
        let shoot2 = IPv6Address("fd8f:6d53:b97a:1::b:2")!
        #expect(s.setTargets([shoot0, shoot1, shoot2], at: .ms(5_700)).compactMap(decoded).map(\.sequence) == [1_004])
        #expect(s.setTargets([shoot0, shoot1, shoot2], at: .ms(5_800)).isEmpty)
        let w = s.shutdown(at: .ms(6_000)).compactMap(decoded)
        #expect(w.count == 3 && w.allSatisfy { $0.kind == .withdraw && $0.sequence == 1_005 && $0.bondAddress == me })
        #expect(s.tick(at: .ms(100_000)).isEmpty && s.nextDeadline == nil)
    }

    @Test func newTargetGetsAnAnnouncementAtOnce() {
        var s = AnnouncementScheduler(
            configuration: .init(bondAddress: me),
            targets: [shoot0],
            podIPs: [pod],
            initialSequence: 0,
            at: .zero
        )
        _ = s.tick(at: .zero)
        let a = s.setTargets([shoot0, shoot1], at: .ms(10))
        #expect(a.count == 1)
        if case .send(let to, _)? = a.first {
            #expect(to == shoot1)
        } else {
            Issue.record("not a send: \(a)")
        }
    }

    @Test func scheduledMessagesAreAcceptedByTheRegistry() {
        let k = Array("k".utf8)
        var s = AnnouncementScheduler(
            configuration: .init(bondAddress: me, lifetime: .seconds(3), key: AnnouncementKey(k)),
            targets: [shoot0],
            podIPs: [pod],
            initialSequence: 42,
            at: .zero
        )
        var r = TunnelRegistry(
            configuration: .init(bondNetwork: IPNetwork("fd8f:6d53:b97a:1::/104")!, key: AnnouncementKey(k))
        )
        var changes = 0
        var t = Instant.zero
        while t < .ms(10_000) {
            for case .send(_, let p) in s.tick(at: t)
            where r.announcement(from: .v6(me), device: "bond0", payload: p, at: t).changed { changes += 1 }
            if r.tick(at: t).changed { changes += 1 }
            t += .milliseconds(100)
        }
        #expect(changes == 1 && r.peers == [ApiserverPeer(bondAddress: me, podIPs: [pod])] && r.rejections.isEmpty)
        for case .send(_, let p) in s.shutdown(at: t) {
            #expect(r.announcement(from: .v6(me), device: "bond0", payload: p, at: t).changed)
        }
        #expect(r.peers.isEmpty)
    }

    @Test func vpn2FormatSendsFirstPodIPAndNoWithdraw() {
        var s = AnnouncementScheduler(
            configuration: .init(bondAddress: me, format: .vpn2),
            targets: [shoot0],
            podIPs: [pod, IPAddress("fd00::5")!],
            initialSequence: 0,
            at: .zero
        )
        #expect(s.tick(at: .zero) == [.send(to: shoot0, payload: Array("10.0.0.5".utf8))])
        #expect(s.shutdown(at: .ms(1)).isEmpty)
    }
}
