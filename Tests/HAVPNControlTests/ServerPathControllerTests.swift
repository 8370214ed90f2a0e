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
    func partitionIsLeftWithin2sAndHealsWithOneMoveBackAfterTheHold(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed))
        let cut = Instant.ms(10_000 + Int64(rng.next() % 1_000))
        let heal = cut + .seconds(20)
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero),
            start: .zero,
            seed: UInt64(seed),
            network: partitioned(0, from: cut, to: heal)
        )
        var moves: [(Instant, Int)] = []
        var healedAt: Instant?
        sim.run(until: heal + .seconds(60)) { t, a in
            if case .setBondActive(let s) = a { moves.append((t, s)) }
            if case .healthChanged(0, .healthy) = a, t > cut { healedAt = t }
        }
        try #require(moves.map(\.1) == [1, 0], "\(moves)")
        // tap0 must be seen healthy again after the heal; a run that never sees it must fail, not pass.
        let healed = try #require(healedAt, "tap0 never became healthy again after the heal")
        #expect(moves[0].0 - cut <= .seconds(2))
        #expect(
            moves[0].0 - cut <= defaults.probe.interval * defaults.probe.unhealthyThreshold + defaults.probe.timeout
        )
        // Back exactly once, a hold after tap0 was proven healthy again (and not before).
        #expect(moves[1].0 == healed + defaults.failbackHold)
        #expect(sim.controller.active == 0 && sim.controller.readiness == .ready)
    }

    @Test func primaryIsKeptAtStartEvenIfAnotherTapAnswersFirst() {
        var c = ServerPathController(configuration: defaults, serverCount: 2, at: .zero)
        _ = c.tick(at: .zero)
        #expect(
            c.probeReply(server: 1, sequence: 0, rtt: .zero, at: .ms(1)) == [
                .healthChanged(server: 1, health: .healthy)
            ]
        )
        #expect(
            c.probeReply(server: 0, sequence: 0, rtt: .zero, at: .ms(2)) == [
                .healthChanged(server: 0, health: .healthy), .readinessChanged(.ready),
            ]
        )
        #expect(c.active == 0 && c.usableServers == [0, 1])
    }

    /// tap0 flaps (alive 3 s, dead 3 s): the bond leaves it once and never returns while it flaps,
    /// because each death restarts the 5 s hold.
    @Test func flappingPathCausesNoFailBack() {
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero),
            start: .zero,
            seed: 3,
            network: { s, sentAt, rng in
                let rtt = Duration.milliseconds(5)
                if s == 0, sentAt >= .ms(5_000), (sentAt.nanoseconds / 3_000_000_000) % 2 == 1 { return nil }
                return rtt
            }
        )
        var moves: [Int] = []
        sim.run(until: .ms(120_000)) { _, a in if case .setBondActive(let s) = a { moves.append(s) } }
        #expect(moves == [1])
    }

    /// Both servers stall in turn (as a starved openvpn does in the e2e lab): each path lapses for
    /// 2 s every 4.5 s, out of phase, so whenever one is dead the other has been healthy for
    /// less than the fail-over hold. The bond stays on tap0 instead of hopping between segments.
    @Test(arguments: 0..<5)
    func pathsStallingInTurnMoveNoBond(seed: Int) {
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero),
            start: .zero,
            seed: UInt64(seed),
            network: { s, sentAt, _ in
                guard sentAt >= .ms(10_000) else { return .milliseconds(5) }
                let phase = (sentAt.nanoseconds / 1_000_000 - 10_000 + (s == 0 ? 2_250 : 0)) % 4_500
                return phase < 2_000 ? nil : .milliseconds(5)
            }
        )
        var moves: [Int] = []
        var deaths = 0
        sim.run(until: .ms(120_000)) { _, a in
            if case .setBondActive(let s) = a { moves.append(s) }
            if case .healthChanged(_, .dead) = a { deaths += 1 }
        }
        #expect(deaths > 20, "the scenario must make both paths die repeatedly")
        #expect(moves == [])
        #expect(sim.controller.active == 0)
    }

    /// A partition of tap0 right after tap1 came back from an outage: tap1 is taken once it has
    /// been healthy for the fail-over hold, not at once.
    @Test func partitionIsLeftAtOnceForAStableTapButWaitsForAFreshOne() throws {
        // tap1 comes back from an outage at 8 s; tap0 is cut at 10 s, 2 s later.
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero),
            start: .zero,
            seed: 9,
            network: { s, sentAt, _ in
                if s == 1, sentAt >= .ms(3_000), sentAt < .ms(8_000) { return nil }
                if s == 0, sentAt >= .ms(10_000) { return nil }
                return .milliseconds(5)
            }
        )
        var moves: [(Instant, Int)] = []
        var tap1HealthyAt: Instant?
        sim.run(until: .ms(30_000)) { t, a in
            if case .setBondActive(let s) = a { moves.append((t, s)) }
            if case .healthChanged(1, .healthy) = a, t > .ms(8_000) { tap1HealthyAt = t }
        }
        try #require(moves.map(\.1) == [1], "\(moves)")
        let (t, _) = moves[0]
        let tap1Healthy = try #require(tap1HealthyAt, "tap1 never became healthy again after its outage")
        // tap0 is declared dead ~1.55 s after the cut, but tap1 is proven only 5 s after it healed.
        #expect(t == tap1Healthy + defaults.failoverHold)
    }

    @Test func allPathsDeadKeepsTheActiveTapAndReportsIt() {
        var sim = ProbeSimulation(
            controller: ServerPathController(configuration: defaults, serverCount: 2, at: .zero),
            start: .zero,
            seed: 4,
            network: { _, sentAt, _ in sentAt < .ms(2_000) ? .milliseconds(3) : nil }
        )
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
        var held = PathSelector(initialActive: 0, failbackHold: .seconds(5), failoverHold: .seconds(5))
        #expect(held.update(health: [.healthy, .unknown], at: .zero) == nil)
        #expect(held.update(health: [.healthy, .healthy], at: .ms(1_000)) == nil)
        #expect(held.update(health: [.dead, .healthy], at: .ms(3_000)) == nil, "tap1 healthy for 2 s only")
        #expect(held.nextDeadline == .ms(6_000))
        #expect(held.update(health: [.dead, .healthy], at: .ms(6_000)) == .switchActive(from: 0, to: 1))
        #expect(held.update(health: [.healthy, .dead], at: .ms(6_500)) == nil, "tap0 healthy since 6.5 s")
        #expect(held.nextDeadline == .ms(11_500))
        #expect(held.update(health: [.healthy, .dead], at: .ms(11_500)) == .switchActive(from: 1, to: 0))
        var sticky = PathSelector(initialActive: 1)
        #expect(sticky.update(health: [.healthy, .healthy], at: .zero) == nil)
        #expect(sticky.update(health: [.healthy, .healthy], at: .ms(100_000)) == nil && sticky.nextDeadline == nil)
    }

    @Test func failBackWaitsUntilTheLowerPathIsCompleteForTheHold() {
        var s = PathSelector(initialActive: 1, failbackHold: .seconds(5))
        let both: [PathHealth] = [.healthy, .healthy]
        #expect(s.update(health: both, complete: [false, true], at: .zero) == nil)
        #expect(s.update(health: both, complete: [false, true], at: .ms(9_000)) == nil, "tap0 misses a peer")
        #expect(s.nextDeadline == nil)
        #expect(s.update(health: both, complete: [true, true], at: .ms(10_000)) == nil, "complete only now")
        #expect(s.nextDeadline == .ms(15_000))
        #expect(s.update(health: both, complete: [false, true], at: .ms(12_000)) == nil)
        #expect(s.update(health: both, complete: [true, true], at: .ms(13_000)) == nil, "the hold starts again")
        #expect(s.update(health: both, complete: [true, true], at: .ms(17_999)) == nil)
        #expect(s.update(health: both, complete: [true, true], at: .ms(18_000)) == .switchActive(from: 1, to: 0))
    }

    @Test func anActivePathIncompleteForThreeHoldsIsLeftForACompleteOne() {
        var s = PathSelector(initialActive: 0, failbackHold: .seconds(5))
        let both: [PathHealth] = [.healthy, .healthy]
        #expect(s.update(health: both, complete: [true, true], at: .ms(-60_000)) == nil)
        #expect(
            s.update(health: both, complete: [false, true], at: .zero) == nil,
            "tap1 complete for long: not enough"
        )
        #expect(s.nextDeadline == .ms(15_000))
        #expect(s.update(health: both, complete: [false, true], at: .ms(14_999)) == nil)
        #expect(s.update(health: both, complete: [false, true], at: .ms(15_000)) == .switchActive(from: 0, to: 1))
        // Neither complete (one peer only on each): stay, no deadline, no hopping.
        #expect(s.update(health: both, complete: [false, false], at: .ms(20_000)) == nil && s.nextDeadline == nil)
        #expect(s.update(health: both, complete: [false, false], at: .ms(60_000)) == nil && s.active == 1)
        // A dead active path is still left at once for a healthy one, complete or not.
        #expect(
            s.update(health: [.healthy, .dead], complete: [false, false], at: .ms(61_000))
                == .switchActive(from: 1, to: 0)
        )
    }
}
