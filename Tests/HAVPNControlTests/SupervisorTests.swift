import HAVPNControl
import HAVPNModel
import Testing

extension ClientPathSupervisor: ProbeDriven {
    mutating func reply(target: Int, sequence: UInt16, rtt: Duration, at: Instant) -> [Action] {
        probeReply(client: target, sequence: sequence, at: at)
    }
    static func probe(_ a: Action) -> (target: Int, sequence: UInt16)? {
        if case .sendProbe(let c, let s) = a { return (c, s) }
        return nil
    }
}

extension ServerPathSupervisor: ProbeDriven {
    mutating func reply(target: Int, sequence: UInt16, rtt: Duration, at: Instant) -> [Action] {
        beaconReply(server: target, sequence: sequence, at: at)
    }
    static func probe(_ a: Action) -> (target: Int, sequence: UInt16)? {
        if case .sendBeacon(let c, let s) = a { return (c, s) }
        return nil
    }
}

private let timings = Topology.Timings()
private let rtt: Duration = .milliseconds(2)

/// A network whose live targets answer in 2 ms; the test edits `live` between runs.
private final class Links {
    var live: Set<Int>
    init(_ live: Set<Int>) { self.live = live }
}

@Suite struct ClientPathSupervisorTests {
    private func settled(live: Links) -> ProbeSimulation<ClientPathSupervisor> {
        let supervisor = ClientPathSupervisor(
            configuration: .init(timings: timings),
            clientCount: 2,
            routed: 0,
            at: .zero
        )
        var sim = ProbeSimulation(controller: supervisor, start: .zero, seed: 1) { t, _, _ in
            live.live.contains(t) ? rtt : nil
        }
        sim.run(until: .ms(2_000)) { _, _ in }
        return sim
    }

    @Test func withoutATapChangeTheControllersBoundHolds() {
        let live = Links([0, 1])
        var sim = settled(live: live)
        live.live = [1]
        let died = sim.now
        var routed: Instant?
        sim.run(until: died + .seconds(3)) { at, a in if case .route(0?, 1) = a, routed == nil { routed = at } }
        let bound = PathController.Configuration(timings: timings).detectionBound
        #expect(routed.map { $0 - died <= bound } == true)
        #expect(sim.controller.routed == 1)
    }

    @Test func aClientOutageWhileBondsFailOverIsHeldAndForgiven() {
        let live = Links([0, 1])
        var sim = settled(live: live)
        let changed = sim.now
        sim.controller.tapChanged(at: changed)
        #expect(sim.controller.state(at: changed) == .settling(until: changed + ClientPathSupervisor.switchHold))
        live.live = [1]
        var actions: [ClientPathSupervisor.Action] = []
        sim.run(until: changed + .milliseconds(2_500)) { _, a in actions.append(a) }
        #expect(actions.contains(.switchHeld(from: 0, to: 1)))
        #expect(
            sim.controller.state(at: sim.now) == .holding(target: 1, until: changed + ClientPathSupervisor.switchHold)
        )
        #expect(sim.controller.nextDeadline.map { $0 <= changed + ClientPathSupervisor.switchHold } == true)
        live.live = [0, 1]
        sim.run(until: changed + .seconds(10)) { _, a in actions.append(a) }
        #expect(!actions.contains { if case .route = $0 { true } else { false } })
        #expect(actions.contains(.keptAfterHold(client: 0)))
        #expect(actions.filter { if case .switchHeld = $0 { true } else { false } }.count == 1)
        #expect(sim.controller.routed == 0 && sim.controller.controller.active == 0)
        #expect(sim.controller.state(at: sim.now) == .free)
        // Only the routed client was judged afresh; the other kept its verdict throughout.
        #expect(sim.controller.controller.health(of: 1) == .healthy)
    }

    @Test func aClientThatStaysDeadIsLeftWhenTheHoldEnds() {
        let live = Links([0, 1])
        var sim = settled(live: live)
        let changed = sim.now
        sim.controller.tapChanged(at: changed)
        live.live = [1]
        var routed: Instant?
        sim.run(until: changed + .seconds(5)) { at, a in if case .route(0?, 1) = a { routed = at } }
        let at = routed
        #expect(at != nil)
        #expect(at.map { $0 - changed >= ClientPathSupervisor.switchHold } == true)
        #expect(at.map { $0 - changed <= ClientPathSupervisor.switchHold + timings.probeInterval } == true)
    }
}

@Suite struct ServerPathSupervisorTests {
    private func start(live: Links) -> ProbeSimulation<ServerPathSupervisor> {
        let supervisor = ServerPathSupervisor(
            configuration: .init(timings: timings),
            serverCount: 2,
            preferred: 0,
            startedAt: .zero,
            at: .zero
        )
        return ProbeSimulation(controller: supervisor, start: .zero, seed: 2) { t, _, _ in
            live.live.contains(t) ? rtt : nil
        }
    }

    /// At start server 1's openvpn connects first: moving there would split the pods across servers.
    @Test func aPathThatNeverAnsweredIsLeftOnlyWhenTheGraceEnds() {
        let live = Links([1])
        var sim = start(live: live)
        var moved: Instant?
        sim.run(until: .ms(10_000)) { at, a in if case .moveBond = a { moved = at } }
        #expect(moved == nil)
        let grace = Instant.zero + ServerPathSupervisor.startupGrace
        #expect(sim.controller.state(at: sim.now) == .vetoed(until: grace))
        #expect(sim.controller.nextDeadline.map { $0 <= grace } == true)
        sim.run(until: .ms(40_000)) { at, a in if case .moveBond(0, 1) = a, moved == nil { moved = at } }
        // Chosen again at the grace's end from what the controller kept knowing: at once.
        #expect(moved == grace)
        #expect(sim.controller.preferred == 1)
        #expect(sim.controller.state(at: sim.now) == .running)
    }

    @Test func aPathSeenHealthyIsLeftAtOnceEvenDuringTheGrace() {
        let live = Links([0, 1])
        var sim = start(live: live)
        sim.run(until: .ms(8_000)) { _, _ in }
        live.live = [1]
        let cut = sim.now
        var moved: Instant?
        sim.run(until: cut + .seconds(3)) { at, a in if case .moveBond(0, 1) = a { moved = at } }
        let bound = timings.pathProbeInterval * timings.pathUnhealthyThreshold + timings.probeTimeout
        #expect(moved.map { $0 - cut <= bound } == true)
        #expect(sim.controller.state(at: sim.now) == .starting(until: .zero + ServerPathSupervisor.startupGrace))
    }
}
