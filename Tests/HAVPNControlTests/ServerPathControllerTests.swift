import HAVPNControl
import HAVPNModel
import Testing

private let defaults = ServerPathController.Configuration(timings: Topology.Timings())

/// Server path `i` is partitioned during `[from, to)`; otherwise 1 % loss, RTT 1…20 ms.
private func partitioned(_ server: Int, from: Instant, to: Instant) -> (Int, Instant, inout SplitMix64) -> Duration? {
    { s, sentAt, rng in
        let rtt = Duration.milliseconds(Int64(1 + rng.next() % 20))
        if s == server, sentAt + rtt >= from, sentAt < to { return nil }
        return rng.chance(0.01) ? nil : rtt
    }
}

@Suite struct ServerPathControllerTests {
    @Test(arguments: 0..<10)
    func partitionIsLeftWithin2sAndHealsWithOneMoveBackAfterTheHold(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        let cut = Instant.ms(10_000 + Int64(rng.next() % 1_000))
        let heal = cut + .seconds(20)
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero), start: .zero,
            seed: UInt64(seed), network: partitioned(0, from: cut, to: heal))
        var moves: [(Instant, Int)] = []
        var healedAt: Instant?
        sim.run(until: heal + .seconds(60)) { t, a in
            if case .setBondActive(let s) = a { moves.append((t, s)) }
            if case .healthChanged(0, .healthy) = a, t > cut { healedAt = t }
        }
        #expect(moves.map(\.1) == [1, 0], "\(moves)")
        guard moves.count == 2, let healedAt else { return }
        #expect(moves[0].0 - cut <= .seconds(2))
        #expect(moves[0].0 - cut <= defaults.probe.interval * defaults.probe.unhealthyThreshold + defaults.probe.timeout)
        // Back exactly once, a hold after tap0 was proven healthy again (and not before).
        #expect(moves[1].0 == healedAt + defaults.failbackHold)
        #expect(sim.controller.active == 0 && sim.controller.readiness == .ready)
    }

    @Test func primaryIsKeptAtStartEvenIfAnotherTapAnswersFirst() {
        var c = ServerPathController(configuration: defaults, serverCount: 2, at: .zero)
        _ = c.tick(at: .zero)
        #expect(c.probeReply(server: 1, sequence: 0, rtt: .zero, at: .ms(1)) == [.healthChanged(server: 1, health: .healthy)])
        #expect(c.probeReply(server: 0, sequence: 0, rtt: .zero, at: .ms(2)) == [.healthChanged(server: 0, health: .healthy), .readinessChanged(.ready)])
        #expect(c.active == 0 && c.usableServers == [0, 1])
    }

    /// tap0 flaps (alive 3 s, dead 3 s): the bond leaves it once and never returns while it flaps,
    /// because each death restarts the 5 s hold.
    @Test func flappingPathCausesNoFailBack() {
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero), start: .zero,
            seed: 3,
            network: { s, sentAt, rng in
                let rtt = Duration.milliseconds(5)
                if s == 0, sentAt >= .ms(5_000), (sentAt.nanoseconds / 3_000_000_000) % 2 == 1 { return nil }
                return rtt
            })
        var moves: [Int] = []
        sim.run(until: .ms(120_000)) { _, a in if case .setBondActive(let s) = a { moves.append(s) } }
        #expect(moves == [1])
    }

    @Test func allPathsDeadKeepsTheActiveTapAndReportsIt() {
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero), start: .zero,
            seed: 4, network: { _, sentAt, _ in sentAt < .ms(2_000) ? .milliseconds(3) : nil })
        var actions: [ServerPathController.Action] = []
        sim.run(until: .ms(10_000)) { _, a in if ServerPathController.probe(a) == nil { actions.append(a) } }
        #expect(!actions.contains { if case .setBondActive = $0 { true } else { false } })
        #expect(actions.last == .readinessChanged(.noHealthyPath))
        #expect(sim.controller.active == 0 && sim.controller.usableServers.isEmpty)
    }
}

@Suite struct PathSelectorTests {
    @Test func policy() {
        var s = PathSelector(initialActive: nil, failbackHold: .seconds(5))
        #expect(s.update(health: [.unknown, .healthy], at: .zero) == .switchActive(from: nil, to: 1))
        #expect(s.update(health: [.healthy, .healthy], at: .ms(1_000)) == nil)
        #expect(s.nextDeadline == .ms(6_000))
        #expect(s.update(health: [.healthy, .healthy], at: .ms(5_999)) == nil)
        #expect(s.update(health: [.healthy, .healthy], at: .ms(6_000)) == .switchActive(from: 1, to: 0))
        #expect(s.update(health: [.dead, .healthy], at: .ms(6_001)) == .switchActive(from: 0, to: 1))
        #expect(s.update(health: [.dead, .dead], at: .ms(7_000)) == nil)
        #expect(s.active == 1 && !s.activeIsHealthy)
        var sticky = PathSelector(initialActive: 1)
        #expect(sticky.update(health: [.healthy, .healthy], at: .zero) == nil)
        #expect(sticky.update(health: [.healthy, .healthy], at: .ms(100_000)) == nil && sticky.nextDeadline == nil)
    }
}
