import HAVPNControl
import HAVPNModel
import Testing

private let defaults = PathController.Configuration(timings: Topology.Timings())

/// Network where client `c` is reachable until `deadAt[c]` (nil: forever) and loses each probe
/// with probability `loss`; RTTs 2…50 ms.
private func network(loss: Double, deadAt: [Instant?]) -> (Int, Instant, inout SplitMix64) -> Duration? {
    { client, sentAt, rng in
        let rtt = Duration.milliseconds(Int64(2 + rng.next() % 49))
        if let d = deadAt[client], sentAt + rtt >= d { return nil }
        return rng.chance(loss) ? nil : rtt
    }
}

@Suite struct PathControllerTests {
    @Test func defaultTimingsMeetTheTargets() {
        let t = Topology.Timings()
        let c = PathController.Configuration(timings: t)
        // Detection bound N·I + T ≤ 2 s.
        #expect(c.detectionBound == .milliseconds(1500))
        #expect(c.detectionBound <= .seconds(2))
        // False-switch bound per 10 minutes at 10 % loss: K · p^N ≤ 1e-8.
        let k = Double(Duration.seconds(600).nanoseconds / t.probeInterval.nanoseconds)
        var pN = 1.0
        for _ in 0..<t.unhealthyThreshold { pN *= 0.1 }
        #expect(k * pN <= 1e-8)
    }

    @Test func startsWithLowestHealthyClientOnceTheFirstRoundIsJudged() {
        var c = PathController(configuration: defaults, clientCount: 2, at: .zero)
        #expect(c.tick(at: .zero) == [.sendProbe(client: 0, sequence: 0), .sendProbe(client: 1, sequence: 0)])
        #expect(c.readiness == .noHealthyPath)
        // Client 1 answers first; the choice waits for client 0's verdict and still picks 0.
        #expect(
            c.probeReply(client: 1, sequence: 0, rtt: .milliseconds(5), at: .ms(5)) == [
                .healthChanged(client: 1, health: .healthy)
            ]
        )
        #expect(c.active == nil)
        let a = c.probeReply(client: 0, sequence: 0, rtt: .milliseconds(6), at: .ms(6))
        #expect(
            a == [
                .healthChanged(client: 0, health: .healthy), .switchActive(from: nil, to: 0), .readinessChanged(.ready),
            ]
        )
        #expect(c.active == 0)
        #expect(c.nextDeadline == .ms(100))
    }

    @Test func restartedControllerKeepsTheHealthyActiveClient() {
        // havpn restarted while the routes point at client 1: both answer, nothing switches.
        var c = PathController(configuration: defaults, clientCount: 2, initialActive: 1, at: .zero)
        #expect(c.active == 1)
        _ = c.tick(at: .zero)
        var actions = c.probeReply(client: 0, sequence: 0, rtt: .milliseconds(5), at: .ms(5))
        actions += c.probeReply(client: 1, sequence: 0, rtt: .milliseconds(5), at: .ms(6))
        actions += c.tick(at: .ms(400))
        #expect(!actions.contains { if case .switchActive = $0 { true } else { false } })
        #expect(c.active == 1)
    }

    @Test func silentClientDelaysTheFirstChoiceByOneTimeoutAtMost() {
        var c = PathController(configuration: defaults, clientCount: 2, at: .zero)
        _ = c.tick(at: .zero)
        _ = c.probeReply(client: 1, sequence: 0, rtt: .milliseconds(5), at: .ms(5))
        #expect(c.nextDeadline == .ms(100))
        _ = c.tick(at: .ms(100))
        _ = c.probeReply(client: 1, sequence: 1, rtt: .milliseconds(5), at: .ms(105))
        #expect(c.tick(at: .ms(200)).contains(.switchActive(from: nil, to: 1)) == false)
        #expect(c.tick(at: .ms(300)).contains(.switchActive(from: nil, to: 1)))
    }

    /// Dead active client: switched away within N·I + T (< 2 s), for many death instants.
    @Test(arguments: 0..<20)
    func deadActiveClientIsSwitchedAwayWithinBound(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed))
        let deathAt = Instant.ms(5_000 + Int64(rng.next() % 1_000))
        var sim = ProbeSimulation(
            controller: PathController(configuration: defaults, clientCount: 2, at: .zero),
            start: .zero,
            seed: UInt64(seed),
            network: network(loss: 0, deadAt: [deathAt, nil])
        )
        var switches: [(Instant, Int?, Int)] = []
        sim.run(until: .ms(20_000)) { t, a in
            if case .switchActive(let f, let to) = a { switches.append((t, f, to)) }
        }
        #expect(switches.count == 2)
        #expect(switches.first.map { $0.1 == nil && $0.2 == 0 } == true)
        let (t, from, to) = try #require(switches.last)
        #expect(from == 0 && to == 1)
        #expect(t - deathAt <= defaults.detectionBound)
        #expect(t - deathAt <= .seconds(2))
        #expect(sim.controller.health(of: 0) == .dead)
        #expect(sim.controller.readiness == .ready)
    }

    /// A hiccup shared by every client (a VPN server failing over) is not a reason to switch:
    /// switching would reset the connections through the active client. Both clients lose every
    /// probe for longer than the detection bound, then recover; the active one stays.
    @Test(arguments: 0..<20)
    func sharedOutageDoesNotSwitch(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        let from = Instant.ms(5_000 + Int64(rng.next() % 1_000))
        let until = from + .milliseconds(1_500 + Int64(rng.next() % 1_500))
        var sim = ProbeSimulation(
            controller: PathController(configuration: defaults, clientCount: 2, at: .zero),
            start: .zero,
            seed: UInt64(seed),
            network: { _, sent, _ in sent >= from && sent < until ? nil : .milliseconds(5) }
        )
        var switches: [PathController.Action] = []
        sim.run(until: .ms(20_000)) { _, a in if case .switchActive = a { switches.append(a) } }
        #expect(switches == [.switchActive(from: nil, to: 0)], "seed \(seed)")
        #expect(sim.controller.active == 0)
        #expect(sim.controller.readiness == .ready)
    }

    /// 200 seeded runs × 10 simulated minutes of 10 % independent loss on both clients: no switch.
    @Test(arguments: 0..<4)
    func lossyPathsCauseNoSwitch(chunk: Int) throws {
        for seed in (chunk * 50)..<(chunk * 50 + 50) {
            var sim = ProbeSimulation(
                controller: PathController(configuration: defaults, clientCount: 2, at: .zero),
                start: .zero,
                seed: UInt64(seed),
                network: network(loss: 0.1, deadAt: [nil, nil])
            )
            var switches = 0
            var lateSwitch = false
            sim.run(until: .ms(600_000)) { t, a in
                if case .switchActive = a {
                    switches += 1
                    lateSwitch = lateSwitch || t > .ms(1_000)
                }
            }
            #expect(!lateSwitch, "seed \(seed): switched under 10 % loss")
            #expect(switches == 1, "seed \(seed)")
            let s = try #require(sim.controller.statistics(of: 0), "seed \(seed): no statistics for client 0")
            #expect(s.sent >= 5_990 && s.losses > 400 && s.losses < 800, "seed \(seed): \(s)")
        }
    }

    /// The simulation can see flapping: at 30 % loss the old threshold N = 5 switches (expected
    /// 6 000 · 0.3⁵ ≈ 15 false deaths in 10 min) while N = 12 does not (6 000 · 0.3¹² ≈ 3 · 10⁻³).
    @Test(arguments: [(5, true), (12, false)])
    func thresholdDecidesFlapping(threshold: Int, flaps: Bool) {
        var t = Topology.Timings()
        t.unhealthyThreshold = threshold
        var sim = ProbeSimulation(
            controller: PathController(configuration: .init(timings: t), clientCount: 2, at: .zero),
            start: .zero,
            seed: 1,
            network: network(loss: 0.3, deadAt: [nil, nil])
        )
        var switches = 0
        sim.run(until: .ms(600_000)) { _, a in if case .switchActive = a { switches += 1 } }
        #expect((switches > 1) == flaps, "\(switches) switches")
    }

    @Test func noHealthyClientKeepsActiveAndReportsNotReady() {
        let all = Instant.ms(3_000)
        var sim = ProbeSimulation(
            controller: PathController(configuration: defaults, clientCount: 2, at: .zero),
            start: .zero,
            seed: 7,
            network: network(loss: 0, deadAt: [all, all])
        )
        var actions: [PathController.Action] = []
        sim.run(until: .ms(10_000)) { _, a in if !(PathController.probe(a) != nil) { actions.append(a) } }
        #expect(
            actions.filter { if case .switchActive = $0 { true } else { false } } == [.switchActive(from: nil, to: 0)]
        )
        #expect(actions.last == .readinessChanged(.noHealthyPath))
        #expect(sim.controller.active == 0)
        #expect(sim.controller.health(of: 0) == .dead && sim.controller.health(of: 1) == .dead)
    }

    @Test func recoveryNeedsHealthyThresholdRepliesAndDoesNotFailBack() {
        var c = PathController(configuration: defaults, clientCount: 2, at: .zero)
        var now = Instant.zero
        func step(_ replyFrom: Set<Int>) -> [PathController.Action] {
            var out: [PathController.Action] = []
            for a in c.tick(at: now) {
                out.append(a)
                if case .sendProbe(let cl, let s) = a, replyFrom.contains(cl) {
                    out += c.probeReply(client: cl, sequence: s, rtt: .milliseconds(1), at: now + .milliseconds(1))
                }
            }
            now += .milliseconds(100)
            return out
        }
        _ = step([0, 1])
        for _ in 0..<20 { _ = step([1]) }  // client 0 dies
        #expect(c.active == 1 && c.health(of: 0) == .dead)
        #expect(step([0, 1]).isEmpty == false)  // probes only
        #expect(c.health(of: 0) == .dead)
        _ = step([0, 1])
        let third = step([0, 1])
        #expect(third.contains(.healthChanged(client: 0, health: .healthy)))
        #expect(c.active == 1)  // sticky: no fail-back
    }

    @Test func sequenceNumbersWrapIn16Bits() {
        var c = PathController(configuration: defaults, clientCount: 1, at: .zero)
        var now = Instant.zero
        var last: UInt16 = 0
        for i in 0..<70_000 {
            for a in c.tick(at: now) {
                if case .sendProbe(_, let s) = a {
                    last = s
                    #expect(s == UInt16(truncatingIfNeeded: i))
                    _ = c.probeReply(client: 0, sequence: s, rtt: .milliseconds(1), at: now)
                }
            }
            now += .milliseconds(100)
        }
        #expect(last == UInt16(truncatingIfNeeded: 69_999))
        #expect(c.health(of: 0) == .healthy && c.statistics(of: 0)?.losses == 0)
    }

    @Test func lateAndUnknownRepliesCountAsLosses() {
        var c = PathController(configuration: defaults, clientCount: 1, at: .zero)
        _ = c.tick(at: .zero)
        // Reply exactly at the timeout: lost.
        #expect(c.probeReply(client: 0, sequence: 0, rtt: .milliseconds(300), at: .ms(300)).isEmpty)
        #expect(c.statistics(of: 0)?.losses == 1 && c.statistics(of: 0)?.lateReplies == 1)
        _ = c.probeReply(client: 0, sequence: 999, rtt: .zero, at: .ms(301))
        #expect(c.statistics(of: 0)?.lateReplies == 2 && c.health(of: 0) == .unknown)
    }

    /// A reply overtaking an unresolved earlier probe waits for it: losses are counted in order.
    @Test func outcomesAreJudgedInSequenceOrder() {
        var cfg = defaults
        cfg.probe.unhealthyThreshold = 2
        var c = PathController(configuration: cfg, clientCount: 1, at: .zero)
        _ = c.tick(at: .zero)  // seq 0
        _ = c.probeReply(client: 0, sequence: 0, rtt: .zero, at: .ms(1))
        _ = c.tick(at: .ms(100))  // seq 1: will be lost
        _ = c.tick(at: .ms(200))  // seq 2: answered before 1 times out
        #expect(c.probeReply(client: 0, sequence: 2, rtt: .zero, at: .ms(210)).isEmpty)
        _ = c.tick(at: .ms(300))  // seq 3: lost
        _ = c.tick(at: .ms(400))  // seq 1 times out → then 2 (success) resolves
        _ = c.tick(at: .ms(600))  // seq 3 times out: only one consecutive loss since seq 2
        #expect(c.health(of: 0) == .healthy)
    }

    @Test func removingTheActiveClientWaitsForTheNextHealthyOne() {
        var c = PathController(configuration: defaults, clientCount: 3, at: .zero)
        for a in c.tick(at: .zero) {
            if case .sendProbe(2, let s) = a { _ = c.probeReply(client: 2, sequence: s, rtt: .zero, at: .ms(1)) }
        }
        #expect(c.tick(at: .ms(300)).contains(.switchActive(from: nil, to: 2)))
        #expect(c.setClientCount(2, at: .ms(301)) == [.readinessChanged(.noHealthyPath)])
        #expect(c.active == nil)
        let probes = c.tick(at: .ms(400))
        #expect(probes.contains(.sendProbe(client: 1, sequence: 2)))
        // Seq 1 (sent at 300 ms) is still open: the reply to seq 2 waits for it (in-order judging).
        #expect(c.probeReply(client: 1, sequence: 2, rtt: .zero, at: .ms(401)).isEmpty)
        #expect(
            c.probeReply(client: 1, sequence: 1, rtt: .zero, at: .ms(402))
                == [
                    .healthChanged(client: 1, health: .healthy), .switchActive(from: nil, to: 1),
                    .readinessChanged(.ready),
                ]
        )
        #expect(c.setClientCount(4, at: .ms(402)).isEmpty)
        #expect(c.health(of: 3) == .unknown && c.nextDeadline == .ms(402))
    }
}
