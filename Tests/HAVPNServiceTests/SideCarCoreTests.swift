import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import Testing

@testable import HAVPNService

@Suite struct SideCarCoreStartTests {
    @Test func startEmitsOneReconcileOfTheTopologysDesiredState() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        let effects = sim.core.start(at: sim.now)
        let reconciles = effects.compactMap(\.desired)
        try #require(reconciles.count == 1)
        let desired = reconciles[0]
        #expect(desired.linkNames == ["bond0", "bond0-ip6tnl0", "bond0-ip6tnl1", "tap0", "tap1"])
        #expect(desired.routeDevices == ["bond0-ip6tnl0"])
        #expect(
            Set(desired.routes.map(\.destination.description)) == ["100.96.0.0/11", "100.64.0.0/13", "10.250.0.0/16"]
        )
        #expect(desired.addresses.map(\.address.description) == ["fd8f:6d53:b97a:1::a:1"])
        let expected = try Planner.desiredState(
            topology: Fixture.exampleTopology,
            identity: Identity(role: .apiserver, index: 1),
            inputs: ControllerInputs()
        )
        #expect(desired == expected)
        #expect(try sim.core.desiredState() == expected)
    }

    @Test func noSecondReconcileWhileOneIsInFlight() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.completeReconciles = false
        sim.start()
        #expect(sim.reconciles.count == 1)
        sim.process(sim.core.kernelEvent(.link, at: sim.now + .milliseconds(5)))
        sim.advance(by: .milliseconds(500))
        #expect(sim.reconciles.count == 1)
        let next = sim.core.reconciled(.success(.converged), reasons: sim.reconciles[0].reasons, at: sim.now)
        #expect(next.filter { $0.isReconcile }.count == 1)
        if case .reconcile(_, let reasons)? = next.first(where: { $0.isReconcile }) {
            #expect(reasons.isDrift)
        }
    }

    @Test func idleAfterConvergedReconcile() throws {
        let sim = try Simulation(role: .server, index: 0)
        sim.start()
        sim.advance(by: .seconds(2))
        #expect(sim.reconciles.count == 1)
        #expect(sim.core.readiness == Readiness(ready: true))
    }

    @Test func startIsTheFirstObservationAndNamesTheRoutedClient() throws {
        let server = try Simulation(role: .server, index: 0)
        #expect(server.observations == [.started(activeShootClient: 0)])
        let routedThrough1 = try Simulation(role: .apiserver, index: 1, learned: ControllerInputs(activeShootClient: 1))
        #expect(routedThrough1.observations.first == .started(activeShootClient: 1))
    }
}

@Suite struct SideCarCoreConfigTests {
    @Test func validChangeReconcilesAndInvalidChangeKeepsTheLastGoodTopology() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.answerProbe = { _ in true }
        sim.answerBeacon = { _ in true }
        sim.start()
        sim.advance(by: .seconds(1))
        sim.clearObservations()

        let changed = Fixture.exampleYAML(
            replacing: "nodes: [10.250.0.0/16]",
            with: "nodes: [10.250.0.0/16, 10.251.0.0/16]"
        )
        sim.process(sim.core.configChanged(yaml: changed, file: "topology.yaml", at: sim.now))
        let reload = sim.advance(until: { $0.reasons.contains(.configChanged) }, within: .milliseconds(200))
        let good = try #require(reload?.desired)
        #expect(good.routes.contains { $0.destination.description == "10.251.0.0/16" && $0.device == "bond0-ip6tnl0" })
        #expect(sim.observations.starts(with: [.topologyValid, .topologyChanged(file: "topology.yaml")]))
        #expect(sim.core.configError == nil)
        #expect(sim.core.readiness.ready)
        sim.clearObservations()

        let invalid = Fixture.exampleYAML(replacing: "servers: 2 ", with: "servers: 99 ")
        let seen = sim.reconciles.count
        let effects = sim.core.configChanged(yaml: invalid, file: "topology.yaml", at: sim.now)
        #expect(!effects.contains { $0.isReconcile })
        sim.process(effects)
        sim.advance(by: .milliseconds(300))
        #expect(sim.reconciles[seen...].allSatisfy { $0.desired == good })
        #expect(sim.core.configError != nil)
        #expect(!sim.core.readiness.ready)
        #expect(sim.core.readiness.reasons.contains { $0.contains("last good") })
        #expect(try sim.core.desiredState() == good)
        #expect(sim.core.topology.servers == 2)
        let rejected = try #require(sim.core.configError)
        #expect(rejected.contains("servers"))
        #expect(sim.observations.first == .topologyRejected(message: rejected, repeated: false))
        #expect(!sim.observations.contains(.topologyValid))
        sim.clearObservations()

        // The same rejection again is marked repeated (logged once); another one is new.
        sim.process(sim.core.configChanged(yaml: invalid, file: "topology.yaml", at: sim.now))
        let brokenSyntax = "apiVersion: havpn/v1\nservers: [\n"
        #expect(
            !sim.core.configChanged(yaml: brokenSyntax, file: "topology.yaml", at: sim.now).contains { $0.isReconcile }
        )
        let broken = try #require(sim.core.configError)
        #expect(
            sim.observations == [
                .topologyRejected(message: rejected, repeated: true),
                .topologyRejected(message: broken, repeated: false),
            ]
        )
        sim.clearObservations()

        // Valid again but what already runs: valid, no change.
        #expect(sim.core.configChanged(yaml: changed, file: "topology.yaml", at: sim.now).isEmpty)
        #expect(sim.core.configError == nil)
        #expect(sim.observations == [.topologyValid])
    }

    @Test func aTopologyThatShrinksRemovesTheSeriesOfTheClientsAndServersItDropped() throws {
        let three = Fixture.exampleYAML(replacing: "shootClients: 2", with: "shootClients: 3")
            .replacingOccurrences(of: "servers: 2 ", with: "servers: 3 ")
        let sim = try Simulation(role: .apiserver, index: 1, yaml: three)
        sim.start()
        sim.clearObservations()
        let smaller = Fixture.exampleYAML(replacing: "servers: 2 ", with: "servers: 1 ")  // and 2 clients
        sim.process(sim.core.configChanged(yaml: smaller, file: "topology.yaml", at: sim.now))
        #expect(
            sim.observations.prefix(5) == [
                .topologyValid, .topologyChanged(file: "topology.yaml"), .shootClientRemoved(2), .serverRemoved(1),
                .serverRemoved(2),
            ]
        )
    }

    @Test func identityInvalidInTheNewTopologyIsRejected() throws {
        let sim = try Simulation(role: .shoot, index: 1)
        sim.start()
        let before = try sim.core.desiredState()
        let fewer = Fixture.exampleYAML(replacing: "shootClients: 2 ", with: "shootClients: 1 ")
        #expect(sim.core.configChanged(yaml: fewer, file: "t", at: sim.now).isEmpty)
        #expect(sim.core.configError != nil)
        #expect(try sim.core.desiredState() == before)
    }

    @Test func reloadThatRemovesThePreferredServerKeepsReconciling() throws {
        let three = Fixture.exampleYAML(replacing: "servers: 2 ", with: "servers: 3 ")
        let (sim, live) = try settledServerPaths(role: .apiserver, yaml: three, live: [0, 1, 2])
        live.servers = [2]
        #expect(sim.advance(until: { $0.desired.bondPrimary == "tap2" }, within: .seconds(2)) != nil)

        live.servers = [0, 1]
        sim.process(sim.core.configChanged(yaml: Fixture.exampleYAML, file: "t", at: sim.now))
        let reload = sim.advance(until: { $0.reasons.contains(.configChanged) }, within: .milliseconds(200))
        #expect(reload?.desired.linkNames == ["bond0", "bond0-ip6tnl0", "bond0-ip6tnl1", "tap0", "tap1"])
        #expect(sim.core.lastReconcileError == nil)
    }

    @Test func serverPathControllerRebuiltByAReloadKnowsTheTapInUse() throws {
        let (sim, live) = try settledServerPaths(role: .apiserver, live: [0, 1])
        live.servers = [1]
        #expect(sim.advance(until: { $0.desired.bondPrimary == "tap1" }, within: .seconds(2)) != nil)

        let slower = Fixture.exampleYAML(replacing: "resyncInterval: 30s", with: "resyncInterval: 40s")
        sim.process(sim.core.configChanged(yaml: slower, file: "t", at: sim.now))
        #expect(
            sim.advance(until: { $0.reasons.contains(.configChanged) }, within: .milliseconds(200))?.desired.bondPrimary
                == "tap1"
        )
        // The rebuilt controller proves tap0 afresh: healthy after 3 beacons, then the fail-over hold.
        live.servers = [0]
        #expect(sim.advance(until: { $0.desired.bondPrimary == "tap0" }, within: .seconds(7)) != nil)
    }
}

/// The VPN servers whose paths answer beacons in a ``Simulation``; a test cuts one by removing it.
private final class LiveServers {
    var servers: Set<Int>
    init(_ servers: Set<Int>) { self.servers = servers }
}

/// A pod (apiserver 1 or shoot 0, every peer answering) past start-up and the server paths'
/// fail-over hold, so every path in `live` is proven stable before the test cuts one.
private func settledServerPaths(role: Role, yaml: String = Fixture.exampleYAML, live: Set<Int>) throws -> (
    Simulation, LiveServers
) {
    let sim = try Simulation(role: role, index: role == .apiserver ? 1 : 0, yaml: yaml)
    let paths = LiveServers(live)
    if role == .apiserver { sim.answerProbe = { _ in true } } else { sim.beaconPeer = (.apiserver, 1) }
    sim.answerBeacon = { paths.servers.contains($0) }
    sim.start()
    sim.advance(by: ServerPathController.Configuration(timings: Topology.Timings()).failoverHold + .seconds(1))
    return (sim, paths)
}

@Suite struct SideCarCorePathTests {
    @Test func deadActiveShootClientIsSwitchedAwayWithinTwoSeconds() throws {
        let (sim, live) = try Simulation.apiserverWithLiveClients()
        sim.advance(by: .seconds(2))
        #expect(sim.core.clientPaths?.controller.active == 0)
        #expect(sim.core.readiness == Readiness(ready: true))
        #expect(sim.reconciles.allSatisfy { $0.desired.routeDevices == ["bond0-ip6tnl0"] })
        #expect(
            sim.effects.contains {
                if case .sendProbe(let to, _) = $0.effect { to == sim.plan.shootClientBondAddress(1) } else { false }
            }
        )
        #expect(sim.observations.filter(\.isShootClientSwitch).isEmpty)

        live.clients = [1]
        let died = sim.now
        let switched = try #require(
            sim.advance(until: { $0.desired.routeDevices == ["bond0-ip6tnl1"] }, within: .seconds(2))
        )
        #expect(switched.at - died <= .seconds(2))
        #expect(switched.desired.routes.count == 3)
        #expect(sim.core.clientPaths?.controller.active == 1)
        #expect(sim.observations.filter(\.isShootClientSwitch) == [.shootClientSwitched(from: 0, to: 1)])
        #expect(sim.observations.contains(.shootClientHealthChanged(client: 0, health: .dead)))
        #expect(sim.core.readiness.ready)
    }

    /// A VPN server rolls: this pod's tap changes, and shoot client 0 is unreachable for 2.5 s
    /// (its bond fails over late) while client 1 answers. No switch: it would reset connections.
    @Test func clientOutageWhileBondsFailOverDoesNotSwitch() throws {
        let (sim, live) = try Simulation.apiserverWithLiveClients()
        sim.advance(by: .seconds(2))
        sim.process(sim.core.kernelEvent(.serverTap, at: sim.now))
        live.clients = [1]
        sim.advance(by: .milliseconds(2_500))
        live.clients = [0, 1]
        #expect(sim.advance(until: { $0.desired.routeDevices == ["bond0-ip6tnl1"] }, within: .seconds(5)) == nil)
        #expect(sim.core.inputs.activeShootClient == 0)
        #expect(sim.observations.filter(\.isShootClientSwitch).isEmpty)
        #expect(sim.observations.contains(.shootClientSwitchHeld(from: 0, to: 1)))
        #expect(sim.observations.contains(.shootClientKeptAfterHold(0)))
    }

    /// Same, but client 0 never comes back: the switch happens when the hold ends.
    @Test func clientThatStaysDeadAfterTheHoldIsSwitchedAway() throws {
        let (sim, live) = try Simulation.apiserverWithLiveClients()
        sim.advance(by: .seconds(2))
        let changed = sim.now
        sim.process(sim.core.kernelEvent(.serverTap, at: changed))
        live.clients = [1]
        let switched = try #require(
            sim.advance(until: { $0.desired.routeDevices == ["bond0-ip6tnl1"] }, within: .seconds(5))
        )
        #expect(switched.at - changed >= .seconds(3))
        #expect(switched.at - changed <= .milliseconds(3_200))
    }

    @Test func probeReplyFromAnUnknownAddressOrSequenceIsIgnored() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.start()
        #expect(sim.core.probeReply(from: IPv6Address("fd8f:6d53:b97a:1::b:9")!, sequence: 0, at: sim.now).isEmpty)
        #expect(sim.core.probeReply(from: sim.plan.shootClientBondAddress(0), sequence: 999, at: sim.now).isEmpty)
        #expect(sim.core.clientPaths?.controller.statistics(of: 0)?.replies == 0)
    }

    @Test func apiserverIsNotReadyWithoutAHealthyClient() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.answerBeacon = { _ in true }
        sim.start()
        sim.advance(by: .seconds(3))
        #expect(sim.core.converged)
        let readiness = sim.core.readiness
        #expect(!readiness.ready)
        #expect(readiness.reasons.contains("no healthy shoot client"))
    }

    @Test func driftIsRepairedWithin100Milliseconds() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.answerProbe = { _ in true }
        sim.answerBeacon = { _ in true }
        sim.start()
        sim.advance(by: .seconds(1))
        #expect(sim.core.converged)
        let at = sim.now + .milliseconds(3)
        let seen = sim.reconciles.count
        sim.now = at
        sim.process(sim.core.kernelEvent(.ownedRoute, at: at))
        let repair = sim.advance(until: { $0.reasons.isDrift }, within: .milliseconds(100), step: .milliseconds(5))
        let hit = try #require(repair)
        #expect(hit.at - at <= .milliseconds(100))
        #expect(sim.reconciles[seen...].count == 1)
    }
}

@Suite struct SideCarCoreBeaconTests {
    @Test func requestFromTheOppositeRoleIsAnsweredOnTheSameTap() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.start()
        let request = PathBeacon(kind: .request, role: .shoot, index: 0, server: 1, sequence: 42)
        let effects = sim.core.beacon(request.bytes, server: 1, at: sim.now)
        try #require(effects.count == 1)
        guard case .sendBeacon(let server, let bytes, _) = effects[0] else {
            Issue.record("expected a beacon, got \(effects[0])")
            return
        }
        #expect(server == 1)
        let reply = try #require(PathBeacon(bytes: bytes))
        #expect(reply.kind == .reply)
        #expect(reply.role == .apiserver && reply.index == 1)
        #expect(reply.server == 1 && reply.sequence == 42)
        #expect(reply.requester?.role == .shoot && reply.requester?.index == 0)
    }

    @Test func requestFromTheSameRoleIsAnsweredButAReplyFromItProvesNothing() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        let sameRole = PathBeacon(kind: .request, role: .apiserver, index: 2, server: 1, sequence: 1)
        sim.start()
        #expect(sim.core.beacon(sameRole.bytes, server: 1, at: sim.now).count == 1)
        // Another apiserver answers every beacon: it is heard, the path stays unproven.
        sim.beaconPeer = (.apiserver, 2)
        sim.answerBeacon = { _ in true }
        sim.advance(by: .seconds(5))
        let paths = try #require(sim.core.serverPaths)
        #expect(paths.controller.peers(on: 1, at: sim.now) == [Identity(role: .apiserver, index: 2)])
        #expect(paths.controller.health(of: 1) != .healthy && !paths.hasBeaconPeers(1))
    }

    @Test func ownRequestOrOneForAnotherTapIsIgnored() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.start()
        let own = PathBeacon(kind: .request, role: .apiserver, index: 1, server: 1, sequence: 1)
        #expect(sim.core.beacon(own.bytes, server: 1, at: sim.now).isEmpty)
        let otherTap = PathBeacon(kind: .request, role: .shoot, index: 0, server: 0, sequence: 1)
        #expect(sim.core.beacon(otherTap.bytes, server: 1, at: sim.now).isEmpty)
        #expect(sim.core.beacon(Array("garbage".utf8), server: 1, at: sim.now).isEmpty)
        let replyForSomeoneElse = PathBeacon(
            kind: .reply,
            role: .shoot,
            index: 0,
            server: 1,
            sequence: 0,
            requester: (.apiserver, 2)
        )
        #expect(sim.core.beacon(replyForSomeoneElse.bytes, server: 1, at: sim.now).isEmpty)
    }

    @Test func deadServerPathMovesTheBondWithinTwoSeconds() throws {
        let (sim, live) = try settledServerPaths(role: .apiserver, live: [0, 1])
        #expect(sim.reconciles.allSatisfy { $0.desired.bondPrimary == "tap0" })
        #expect(sim.core.serverPaths?.controller.usableServers == [0, 1])

        live.servers = [1]
        let died = sim.now
        let moved = try #require(sim.advance(until: { $0.desired.bondPrimary == "tap1" }, within: .seconds(2)))
        #expect(moved.at - died <= .seconds(2))
        #expect(
            sim.observations.filter { if case .bondMoved = $0 { true } else { false } } == [.bondMoved(from: 0, to: 1)]
        )
        #expect(sim.observations.contains(.serverPathHealthChanged(server: 0, health: .dead)))
    }

    @Test func shootSideAlsoMovesTheBond() throws {
        let (sim, live) = try settledServerPaths(role: .shoot, live: [0, 1])
        live.servers = [1]
        #expect(sim.advance(until: { $0.desired.bondPrimary == "tap1" }, within: .seconds(2)) != nil)
    }

    @Test func startupDoesNotLeaveAPathThatNeverAnsweredUntilTheGraceEnds() throws {
        // At start, server 1's openvpn connects first: moving there would split the pods across
        // servers. The path that never answered is left only after the startup grace.
        let sim = try Simulation(role: .shoot, index: 0)
        sim.beaconPeer = (.apiserver, 1)
        sim.answerBeacon = { $0 == 1 }
        sim.start()
        #expect(sim.advance(until: { $0.desired.bondPrimary == "tap1" }, within: .seconds(10)) == nil)
        let moved = try #require(sim.advance(until: { $0.desired.bondPrimary == "tap1" }, within: .seconds(25)))
        #expect(moved.at >= .zero + .seconds(30))
    }
}
