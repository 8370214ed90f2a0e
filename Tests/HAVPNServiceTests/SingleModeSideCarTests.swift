import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import HAVPNReconcile
import Testing

@testable import HAVPNService

/// The side-car core in single mode (vpn2's non-HA tunnel): no HA machine runs, readiness comes from
/// openvpn's status file (server) and the routes through tun0 (both roles).
@Suite struct SingleModeSideCarTests {
    static let yaml: String = {
        let url = Fixture.repositoryRoot.appendingPathComponent("examples/non-ha.yaml")
        return try! String(contentsOf: url, encoding: .utf8)
    }()

    static let waitingPlan = Plan(waiting: ["tun0 is absent (openvpn creates it): 1 route waits for it (10.1.0.0/16)"])

    private func outcome(remaining: Plan) -> ReconcileOutcome {
        ReconcileOutcome(plan: remaining, applied: [], remaining: remaining, duration: .milliseconds(1))
    }

    @Test func noProbesBeaconsOrAnnouncementsAndTheRoutesGoThroughTun0() throws {
        for role in [Role.server, .shoot] {
            let sim = try Simulation(role: role, index: 0, yaml: Self.yaml)
            sim.start()
            sim.advance(by: .seconds(5))
            #expect(sim.reconciles.count == 1)
            #expect(sim.reconciles[0].desired.routes.allSatisfy { $0.device == "tun0" })
            #expect(!sim.reconciles[0].desired.routes.isEmpty)
            #expect(sim.effects.allSatisfy { if case .reconcile = $0.effect { true } else { false } })
            #expect(sim.core.clientPaths == nil && sim.core.serverPaths == nil && sim.core.peers == nil)
            #expect(sim.core.status(at: sim.now, version: "t").bond == nil)
        }
    }

    @Test func shootIsReadyOnceNoRouteWaitsForTun0() throws {
        let sim = try Simulation(role: .shoot, index: 0, yaml: Self.yaml)
        sim.completeReconciles = false
        sim.start()
        _ = sim.core.reconciled(
            .success(outcome(remaining: Self.waitingPlan)),
            reasons: sim.reconciles[0].reasons,
            at: sim.now
        )
        #expect(!sim.core.readiness.ready)
        #expect(sim.core.readiness.reasons == ["routes not in place: \(Self.waitingPlan.waiting[0])"])
        // tun0 appears (a link event), the next pass puts the routes in: ready, with no apiserver known.
        sim.now += .milliseconds(50)
        sim.process(sim.core.kernelEvent(.link, at: sim.now))
        sim.advance(by: .milliseconds(200))
        try #require(sim.reconciles.count == 2)
        _ = sim.core.reconciled(.success(.converged), reasons: sim.reconciles[1].reasons, at: sim.now)
        #expect(sim.core.readiness == Readiness(ready: true))
    }

    @Test func serverReadinessFollowsTheStatusFile() throws {
        let sim = try Simulation(role: .server, index: 0, yaml: Self.yaml)
        sim.start()
        #expect(sim.core.openvpnStatusFile == "/srv/status/openvpn.status")
        #expect(!sim.core.readiness.ready)  // never read
        let empty = "TITLE,OpenVPN 2.6\nTIME,x,1\nEND\n"
        sim.core.openvpnStatusRead(.success(empty))
        #expect(sim.core.readiness == Readiness(ready: true))
        sim.core.openvpnStatusRead(.success("TITLE,OpenVPN 2.6\nCLIENT_LIST,intruder,a,b,c\nEND\n"))
        #expect(sim.core.readiness.reasons == ["openvpn has 1 client(s) but no vpn-shoot-client"])
        // Half written: the last complete reading holds.
        sim.core.openvpnStatusRead(.success("TITLE,OpenVPN 2.6\nCLIENT_LIST,vpn-shoot-cl"))
        #expect(!sim.core.readiness.ready)
        sim.core.openvpnStatusRead(.success("TITLE,OpenVPN 2.6\nCLIENT_LIST,vpn-shoot-client,a\nEND\n"))
        #expect(sim.core.readiness == Readiness(ready: true))
        sim.core.openvpnStatusRead(.failure(HAVPNError(.fileUnreadable, "gone")))
        #expect(sim.core.readiness.reasons.count == 1)
        #expect(sim.core.readiness.reasons[0].hasPrefix("cannot read the openvpn status file"))
    }

    @Test func haServersReadNoStatusFile() throws {
        let sim = try Simulation(role: .server, index: 0)
        #expect(sim.core.openvpnStatusFile == nil)
    }

    @Test func aChangeOfModeIsRejectedUntilARestart() throws {
        let sim = try Simulation(role: .server, index: 0, yaml: Self.yaml)
        sim.start()
        sim.process(sim.core.configChanged(yaml: "apiVersion: havpn/v1\n", file: "t.yaml", at: sim.now))
        #expect(sim.core.topology.mode == .single)
        #expect(sim.core.configError?.contains("a change of mode takes a restart") == true)
    }
}
