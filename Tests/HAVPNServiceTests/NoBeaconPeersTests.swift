import HAVPNControl
import HAVPNModel
import Testing

@testable import HAVPNService

/// Mixed fleets: vpn2 pods never answer havpn's L2 beacons, so a path nobody answers reads
/// "no beacon peers", not "dead", and costs no readiness.
@Suite struct NoBeaconPeersTests {
    @Test func aPathNobodyAnswersReadsNoBeaconPeersAndIsNoFailure() throws {
        let sim = try Simulation(role: .shoot, index: 0)
        sim.beaconPeer = (.apiserver, 1)
        var answering: Set<Int> = []
        sim.answerBeacon = { answering.contains($0) }
        sim.start()
        sim.advance(by: .seconds(40))
        let paths = try #require(sim.core.serverPaths)
        #expect(paths.status(of: 0) == .noBeaconPeers && paths.status(of: 1) == .noBeaconPeers)
        #expect(sim.observations.contains(.serverPathWithoutBeaconPeers(0)))
        #expect(!sim.observations.contains { if case .serverPathHealthChanged = $0 { true } else { false } })
        #expect(sim.core.readiness == Readiness(ready: true))
        #expect(sim.reconciles.allSatisfy { $0.desired.bondPrimary == "tap0" })
        sim.clearObservations()

        // A havpn peer turns up on server 0: the path is judged from then on.
        answering = [0]
        sim.advance(by: .seconds(2))
        #expect(sim.core.serverPaths?.status(of: 0) == .healthy)
        #expect(sim.core.serverPaths?.status(of: 1) == .noBeaconPeers)
        #expect(sim.observations.contains(.serverPathBeaconPeersFound(server: 0, healthy: false)))
        #expect(sim.observations.contains(.serverPathHealthChanged(server: 0, health: .healthy)))
        #expect(!sim.observations.contains { if case .serverPathBeaconPeersFound(1, _) = $0 { true } else { false } })

        // ... and once it answered, its silence is a partition.
        answering = []
        sim.advance(by: .seconds(2))
        #expect(sim.core.serverPaths?.status(of: 0) == .dead)
        #expect(
            sim.observations.last { if case .serverPathHealthChanged(0, _) = $0 { true } else { false } }
                == .serverPathHealthChanged(server: 0, health: .dead)
        )
    }

    @Test func aPathWithoutBeaconPeersStartsNoSwitchHold() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.answerProbe = { _ in true }
        sim.answerBeacon = { _ in false }
        sim.start()
        sim.advance(by: .seconds(2))
        // Both paths' verdicts came in (after 5 × 200 ms + 400 ms), within the 3 s a hold would last;
        // but a verdict on beacons nobody answers holds nothing: a dead client is switched away at once.
        #expect(sim.core.serverPaths?.status(of: 0) == .noBeaconPeers)
        #expect(sim.core.clientPaths?.state(at: sim.now) == .free)
    }
}
