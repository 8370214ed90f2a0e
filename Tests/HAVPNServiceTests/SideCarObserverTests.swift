import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import InMemoryLogging
import Logging
import MetricsTestKit
import Testing

@testable import HAVPNService

/// An observer that writes into memory, at every level.
private struct Recorder {
    let logs: InMemoryLogHandler
    let metrics = TestMetrics()
    let observer: SideCarObserver

    init(role: Role = .apiserver) {
        var handler = InMemoryLogHandler()
        handler.logLevel = .trace
        logs = handler
        observer = SideCarObserver(
            logger: Logger(label: "havpn.test") { _ in handler },
            metrics: SideCarMetrics(factory: metrics, role: role)
        )
    }

    func observe(_ observations: SideCarObservation...) { observer.observe(observations) }

    /// The one line written, as (level, message, metadata).
    func line() throws -> InMemoryLogHandler.Entry {
        try #require(logs.entries.count == 1, "lines: \(logs.entries.map(\.message))")
        return logs.entries[0]
    }

    func value(_ sample: String) -> Double? { metricValue(metrics, sample) }
}

/// The lines are an interface (e2e/lib.sh's `logged_at` matches "switching active shoot client";
/// operators' queries match the rest): each observation writes exactly its line.
@Suite struct SideCarObserverLogTests {
    static let source = IPv6Address("fd8f:6d53:b97a:1::a:7")!
    static let conflict = TunnelRegistry.AddressConflict(
        bondAddress: source,
        podIPs: [IPAddress("10.1.0.10")!],
        rivalPodIPs: [IPAddress("10.1.0.9")!]
    )
    static let readiness = Readiness(ready: false, reasons: ["no healthy shoot client"])

    static let cases: [(SideCarObservation, InMemoryLogHandler.Entry)] = [
        (
            .shootClientSwitched(from: 0, to: 1),
            .init(
                level: .notice,
                message: "switching active shoot client",
                metadata: ["path.from": "0", "path.to": "1"]
            )
        ),
        (
            .shootClientSwitched(from: nil, to: 0),
            .init(
                level: .notice,
                message: "switching active shoot client",
                metadata: ["path.from": "none", "path.to": "0"]
            )
        ),
        (
            .shootClientSwitchHeld(from: 0, to: 1),
            .init(
                level: .info,
                message: "holding a shoot client switch while bonds fail over",
                metadata: ["path.from": "0", "path.to": "1"]
            )
        ),
        (
            .shootClientKeptAfterHold(1),
            .init(
                level: .info,
                message: "shoot client recovered during the hold; no switch",
                metadata: ["path.client": "1"]
            )
        ),
        (
            .shootClientHealthChanged(client: 1, health: .dead),
            .init(
                level: .info,
                message: "shoot client health changed",
                metadata: ["path.client": "1", "path.health": "dead"]
            )
        ),
        (
            .pathReadinessChanged(readiness),
            .init(level: .notice, message: "path readiness changed", metadata: ["path.readiness": "\(readiness)"])
        ),
        (
            .bondMoved(from: 0, to: 1),
            .init(
                level: .notice,
                message: "moving bond to VPN server path",
                metadata: ["path.from": "0", "path.to": "1"]
            )
        ),
        (
            .serverPathHealthChanged(server: 1, health: .healthy),
            .init(
                level: .info,
                message: "VPN server path health changed",
                metadata: ["path.server": "1", "path.health": "healthy"]
            )
        ),
        (
            .serverPathWithoutBeaconPeers(0),
            .init(
                level: .info,
                message:
                    "no beacon peers on VPN server path (peers that do not answer havpn's beacons, such as vpn2); its health is unknown",
                metadata: ["path.server": "0", "path.health": "no-beacon-peers"]
            )
        ),
        (
            .serverPathBeaconPeersFound(server: 1, healthy: false),
            .init(level: .info, message: "VPN server path has beacon peers", metadata: ["path.server": "1"])
        ),
        (
            .topologyChanged(file: "/etc/havpn/topology.yaml"),
            .init(level: .notice, message: "topology changed", metadata: ["config.file": "/etc/havpn/topology.yaml"])
        ),
        (
            .topologyRejected(message: "servers: must be 1...16", repeated: false),
            .init(
                level: .error,
                message: "topology file rejected; keeping the last good topology",
                metadata: ["error": "servers: must be 1...16"]
            )
        ),
        (
            .desiredStateFailed(error: "no address"),
            .init(level: .error, message: "cannot compute the desired state", metadata: ["error": "no address"])
        ),
        (
            .reconcileFailed(error: "EROFS", reasons: [.timer], backoff: .seconds(2), failures: 3),
            .init(
                level: .error,
                message: "reconcile failed; retrying after a backoff",
                metadata: [
                    "error": "EROFS", "reconcile.reasons": "timer",
                    "reconcile.backoff": .stringConvertible(Duration.seconds(2)),
                    "reconcile.failures": .stringConvertible(3),
                ]
            )
        ),
        (
            .announcementRejected(source: source, reason: .wrongDevice),
            .init(
                level: .debug,
                message: "announcement ignored",
                metadata: ["announcement.source": "\(source)", "announcement.reason": "wrongDevice"]
            )
        ),
        (
            .addressConflict(conflict),
            .init(
                level: .warning,
                message:
                    "two kube-apiserver pods announce one bond address; give them distinct --index or --bond-address",
                metadata: ["announcement.conflict": "\(conflict)"]
            )
        ),
    ]

    @Test(arguments: cases)
    func writesItsLine(observation: SideCarObservation, expected: InMemoryLogHandler.Entry) throws {
        let recorder = Recorder()
        recorder.observe(observation)
        #expect(try recorder.line() == expected)
    }

    @Test func aReconcileThatChangedSomethingIsLoggedWithItsChanges() throws {
        let recorder = Recorder()
        let route = PlanAction.deleteRoute(RouteSpec(destination: IPNetwork("10.0.0.0/8")!, device: "x"))
        recorder.observe(.reconciled(reasons: [.driftRoute], applied: [route], duration: .milliseconds(3)))
        let line = try recorder.line()
        #expect(line.level == .info)
        #expect(line.message == "reconciled")
        #expect(
            line.metadata == [
                "reconcile.reasons": "drift:route",
                "reconcile.actions": .stringConvertible(1),
                "reconcile.duration": .stringConvertible(Duration.milliseconds(3)),
                "reconcile.changes": "\(PlanRenderer.line(route))",
            ]
        )
    }

    /// Lines that would repeat every turn, or say nothing new, are not written.
    @Test(arguments: [
        SideCarObservation.topologyRejected(message: "x", repeated: true),
        .reconciled(reasons: [.timer], applied: [], duration: .milliseconds(1)),
        .started(activeShootClient: 0), .topologyValid, .shootClientRemoved(1), .serverRemoved(1),
        .reconcileStarted(tunnels: 2), .probeStatistics([ProbeSample(client: 0, rtt: nil, lossRatio: 1)]),
        .announcementSent, .announcementAccepted, .addressConflicts(count: 1), .apiserverPeersChanged(count: 2),
    ])
    func writesNoLine(observation: SideCarObservation) {
        let recorder = Recorder()
        recorder.observe(observation)
        #expect(recorder.logs.entries.isEmpty)
    }
}

/// The series each observation updates, as the dashboards and alert rules read them.
@Suite struct SideCarObserverMetricTests {
    @Test func startMarksTheTopologyValidWithNoBackoffAndTheRoutedClient() {
        let recorder = Recorder()
        recorder.observe(.started(activeShootClient: 1))
        #expect(recorder.value("havpn_config_valid") == 1)
        #expect(recorder.value("havpn_reconcile_backoff_seconds") == 0)
        #expect(recorder.value("havpn_active_shoot_client") == 1)
    }

    @Test func onlyAnActualSwitchCountsAsOne() {
        let recorder = Recorder()
        recorder.observe(.shootClientSwitched(from: nil, to: 0))
        #expect(recorder.value("havpn_path_switches_total") == 0)
        #expect(recorder.value("havpn_active_shoot_client") == 0)
        recorder.observe(.shootClientSwitched(from: 0, to: 1), .shootClientHealthChanged(client: 0, health: .dead))
        #expect(recorder.value("havpn_path_switches_total") == 1)
        #expect(recorder.value("havpn_active_shoot_client") == 1)
        #expect(recorder.value("havpn_shoot_client_healthy{client=\"0\"}") == 0)
    }

    @Test func topologyReadsCountReloadsAndRejections() {
        let recorder = Recorder()
        recorder.observe(.topologyValid, .topologyChanged(file: "t"))
        #expect(recorder.value("havpn_config_reloads_total") == 1)
        #expect(recorder.value("havpn_config_valid") == 1)
        recorder.observe(
            .topologyRejected(message: "x", repeated: false),
            .topologyRejected(message: "x", repeated: true)
        )
        #expect(recorder.value("havpn_config_reload_failures_total") == 2)
        #expect(recorder.value("havpn_config_valid") == 0)
        recorder.observe(.topologyValid)
        #expect(recorder.value("havpn_config_valid") == 1)
        #expect(recorder.value("havpn_config_reloads_total") == 1)
    }

    @Test func removalsDropTheSeriesOfClientsAndServersTheTopologyNoLongerHas() {
        let recorder = Recorder()
        recorder.observe(
            .probeStatistics([
                ProbeSample(client: 0, rtt: .milliseconds(2), lossRatio: 0),
                ProbeSample(client: 2, rtt: nil, lossRatio: 1),
            ]),
            .shootClientHealthChanged(client: 2, health: .dead),
            .serverPathBeaconPeersFound(server: 1, healthy: true)
        )
        #expect(recorder.value("havpn_probe_rtt_seconds{client=\"0\"}") == 0.002)
        #expect(recorder.value("havpn_probe_rtt_seconds{client=\"2\"}")?.isNaN == true)
        #expect(recorder.value("havpn_probe_loss_ratio{client=\"2\"}") == 1)
        #expect(recorder.value("havpn_shoot_client_healthy{client=\"2\"}") == 0)
        #expect(recorder.value("havpn_server_path_healthy{server=\"1\"}") == 1)
        #expect(recorder.value("havpn_server_path_beacon_peers{server=\"1\"}") == 1)

        recorder.observe(.shootClientRemoved(2), .serverRemoved(1))
        for gone in [
            "havpn_probe_rtt_seconds{client=\"2\"}", "havpn_probe_loss_ratio{client=\"2\"}",
            "havpn_shoot_client_healthy{client=\"2\"}", "havpn_server_path_healthy{server=\"1\"}",
            "havpn_server_path_beacon_peers{server=\"1\"}",
        ] {
            #expect(recorder.value(gone) == nil, "\(gone) still exported")
        }
        #expect(recorder.value("havpn_probe_rtt_seconds{client=\"0\"}") == 0.002)
    }

    @Test func reconcilesCountPassesActionsDriftAndTheBackoff() {
        let recorder = Recorder()
        let route = PlanAction.deleteRoute(RouteSpec(destination: IPNetwork("10.0.0.0/8")!, device: "x"))
        recorder.observe(.reconcileStarted(tunnels: 3))
        #expect(recorder.value("havpn_tunnels") == 3)
        recorder.observe(.reconcileFailed(error: "EROFS", reasons: [.timer], backoff: .milliseconds(500), failures: 1))
        #expect(recorder.value("havpn_reconciles_total") == 1)
        #expect(recorder.value("havpn_reconcile_errors_total") == 1)
        #expect(recorder.value("havpn_reconcile_backoff_seconds") == 0.5)
        recorder.observe(
            .reconciled(reasons: [.timer], applied: [route], duration: .milliseconds(3)),
            .reconciled(reasons: [.driftRoute], applied: [route], duration: .milliseconds(3)),
            .reconciled(reasons: [.driftLink], applied: [], duration: .milliseconds(1))
        )
        #expect(recorder.value("havpn_reconciles_total") == 4)
        #expect(recorder.value("havpn_reconcile_errors_total") == 1)
        #expect(recorder.value("havpn_reconcile_backoff_seconds") == 0)
        #expect(recorder.value("havpn_actions_total{kind=\"delete_route\"}") == 2)
        // Drift that needed a change; a drift pass that changed nothing repaired nothing.
        #expect(recorder.value("havpn_drift_repairs_total") == 1)
        let durations = try? recorder.metrics.expectTimer("havpn_reconcile_duration_seconds")
        #expect(durations?.values == [3_000_000, 3_000_000, 1_000_000])
    }

    @Test func serverPathsCountMovesAndShowHealthOnlyWithBeaconPeers() {
        let recorder = Recorder(role: .shoot)
        recorder.observe(.serverPathWithoutBeaconPeers(0))
        #expect(recorder.value("havpn_server_path_beacon_peers{server=\"0\"}") == 0)
        #expect(recorder.value("havpn_server_path_healthy{server=\"0\"}") == nil)
        recorder.observe(.serverPathBeaconPeersFound(server: 0, healthy: false))
        #expect(recorder.value("havpn_server_path_beacon_peers{server=\"0\"}") == 1)
        #expect(recorder.value("havpn_server_path_healthy{server=\"0\"}") == 0)
        recorder.observe(.serverPathHealthChanged(server: 0, health: .healthy), .bondMoved(from: 1, to: 0))
        #expect(recorder.value("havpn_server_path_healthy{server=\"0\"}") == 1)
        #expect(recorder.value("havpn_server_path_switches_total") == 1)
        #expect(recorder.value("havpn_preferred_server") == 0)
        #expect(recorder.value("havpn_active_shoot_client") == nil)
    }

    @Test func announcementsAndPeers() {
        let recorder = Recorder()
        let source = IPv6Address("fd00::a:7")!
        recorder.observe(
            .announcementSent,
            .announcementSent,
            .announcementAccepted,
            .announcementRejected(source: source, reason: .wrongDevice),
            .announcementRejected(source: source, reason: .sourceNotApiserver),
            .announcementRejected(source: source, reason: .wrongDevice),
            .addressConflicts(count: 2),
            .apiserverPeersChanged(count: 3)
        )
        #expect(recorder.value("havpn_announcements_sent_total") == 2)
        #expect(recorder.value("havpn_announcements_received_total") == 1)
        #expect(recorder.value("havpn_announcements_rejected_total{reason=\"wrongDevice\"}") == 2)
        #expect(recorder.value("havpn_announcements_rejected_total{reason=\"sourceNotApiserver\"}") == 1)
        #expect(recorder.value("havpn_apiserver_address_conflicts") == 2)
        #expect(recorder.value("havpn_known_apiservers") == 3)
    }
}
