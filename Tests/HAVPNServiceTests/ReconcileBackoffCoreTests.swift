import HAVPNControl
import HAVPNModel
import Testing

@testable import HAVPNService

@Suite struct ReconcileBackoffCoreTests {
    static let readOnlyProc = HAVPNError(
        .permission,
        "cannot write sysctl net.ipv4.conf.all.rp_filter",
        errno: 30,
        errnoText: "Read-only file system"
    )

    @Test func failingReconcilesBackOffExponentiallyUpToThirtySeconds() throws {
        let sim = try Simulation(role: .server, index: 0)
        sim.reconcileFailure = Self.readOnlyProc
        sim.start()
        _ = sim.advanceByDeadlines(within: .seconds(120))
        let starts = sim.reconciles.map(\.at)
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
        // 0.5 + 1 + 2 + 4 + 8 + 16 = 31.5 s, then one every 30 s: 6 + 2 retries after the first pass
        // within 120 s (simulated reconciles fail at once, so each gap is exactly one backoff).
        #expect(gaps.count == 8)
        let expected: [Duration] = [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30),
            .seconds(30),
        ]
        for (gap, wait) in zip(gaps, expected) { #expect(gap == wait, "gap \(gap), backoff \(wait)") }
        #expect(sim.core.backoff.consecutiveFailures == 9)
        let failures = sim.observations.filter { if case .reconcileFailed = $0 { true } else { false } }
        #expect(failures.count == 9)
        #expect(
            failures.last
                == .reconcileFailed(
                    error: "\(Self.readOnlyProc)",
                    reasons: [.timer],
                    backoff: .seconds(30),
                    failures: 9
                )
        )
        let readiness = sim.core.readiness
        #expect(!readiness.ready)
        #expect(readiness.reasons.contains("reconcile failed 9 times in a row; next attempt after a 30.0 s backoff"))
    }

    @Test func kernelDriftDuringTheBackoffWaitsForIt() throws {
        let sim = try Simulation(role: .server, index: 0)
        sim.reconcileFailure = Self.readOnlyProc
        sim.start()
        _ = sim.advanceByDeadlines(within: .seconds(3))  // failures at 0, 0.5, 1.5 s; the next waits 2 s
        let seen = sim.reconciles.count
        #expect(seen == 3)
        sim.process(sim.core.kernelEvent(.link, at: sim.now))
        sim.advance(by: .milliseconds(400))
        #expect(sim.reconciles.count == seen)
        let next = sim.advance(until: { _ in true }, within: .seconds(1))
        #expect(next?.at == .milliseconds(3500))
    }

    @Test func successResetsTheBackoffAndANewTopologySkipsTheWait() throws {
        let sim = try Simulation(role: .server, index: 0)
        sim.reconcileFailure = Self.readOnlyProc
        sim.start()
        _ = sim.advanceByDeadlines(within: .seconds(10))
        #expect(sim.core.backoff.delay == .seconds(8))

        sim.reconcileFailure = nil
        let changed = Fixture.exampleYAML(
            replacing: "nodes: [10.250.0.0/16]",
            with: "nodes: [10.250.0.0/16, 10.251.0.0/16]"
        )
        let seen = sim.reconciles.count
        sim.process(sim.core.configChanged(yaml: changed, file: "topology.yaml", at: sim.now))
        sim.advance(by: .milliseconds(200))
        // Well before the 8 s backoff ends (at 15.5 s).
        #expect(
            sim.reconciles[seen...].contains { $0.reasons.contains(.configChanged) && $0.at <= .milliseconds(10_200) }
        )
        #expect(sim.core.backoff.consecutiveFailures == 0 && sim.core.backoff.retryAt == nil)
        #expect(
            sim.observations.last { if case .reconciled = $0 { true } else { false } }
                == .reconciled(reasons: [.configChanged, .timer], applied: [], duration: .milliseconds(1))
        )
        #expect(sim.core.readiness.ready)
    }
}

extension Instant {
    static func milliseconds(_ v: Int64) -> Instant { Instant(nanoseconds: v * 1_000_000) }
}
