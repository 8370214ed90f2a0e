import CoreMetrics
import HAVPNModel
import HAVPNPlanner

/// Every metric the side-car exports, recorded through the swift-metrics façade.
///
/// `havpn run` bootstraps ``PrometheusBackend`` (swift-prometheus) and serves its registry on
/// /metrics; tests pass MetricsTestKit's `TestMetrics` as the factory. Names and labels are the
/// Prometheus families README lists.
public final class SideCarMetrics: Sendable {
    let factory: any MetricsFactory

    let reconciles: Counter
    let reconcileErrors: Counter
    let reconcileDuration: Timer
    let reconcileBackoff: Gauge
    let driftRepairs: Counter
    let configReloads: Counter
    let configReloadFailures: Counter
    let configValid: Gauge
    /// apiserver role only: on other pods `0` would read as "client 0 is active".
    let activeShootClient: Gauge?
    let pathSwitches: Counter
    let preferredServer: Gauge
    let serverPathSwitches: Counter
    let knownApiservers: Gauge
    let apiserverAddressConflicts: Gauge
    let tunnels: Gauge
    let announcementsSent: Counter
    let announcementsReceived: Counter
    let ready: Gauge

    /// - Parameters:
    ///   - factory: the backend; by default the one `MetricsSystem` was bootstrapped with;
    ///   - role: the pod's role; series that mean something for one role only are made for it alone
    ///     (nil: all of them).
    public init(factory: any MetricsFactory = MetricsSystem.factory, role: Role? = nil) {
        self.factory = factory
        let counter = { (name: String) in Counter(label: name, factory: factory) }
        let gauge = { (name: String) in Gauge(label: name, factory: factory) }
        reconciles = counter("havpn_reconciles_total")
        reconcileErrors = counter("havpn_reconcile_errors_total")
        reconcileDuration = Timer(label: "havpn_reconcile_duration_seconds", factory: factory)
        reconcileBackoff = gauge("havpn_reconcile_backoff_seconds")
        driftRepairs = counter("havpn_drift_repairs_total")
        configReloads = counter("havpn_config_reloads_total")
        configReloadFailures = counter("havpn_config_reload_failures_total")
        configValid = gauge("havpn_config_valid")
        if role == nil || role == .apiserver {
            let active = gauge("havpn_active_shoot_client")
            active.record(-1)
            activeShootClient = active
        } else {
            activeShootClient = nil
        }
        pathSwitches = counter("havpn_path_switches_total")
        preferredServer = gauge("havpn_preferred_server")
        serverPathSwitches = counter("havpn_server_path_switches_total")
        knownApiservers = gauge("havpn_known_apiservers")
        apiserverAddressConflicts = gauge("havpn_apiserver_address_conflicts")
        tunnels = gauge("havpn_tunnels")
        announcementsSent = counter("havpn_announcements_sent_total")
        announcementsReceived = counter("havpn_announcements_received_total")
        ready = gauge("havpn_ready")
    }

    func actions(_ actions: [PlanAction]) {
        for action in actions {
            Counter(label: "havpn_actions_total", dimensions: [("kind", Self.kind(action))], factory: factory)
                .increment()
        }
    }

    func announcementRejected(_ reason: String) {
        Counter(label: "havpn_announcements_rejected_total", dimensions: [("reason", reason)], factory: factory)
            .increment()
    }

    /// - Parameter rtt: the last round-trip time; nil when the last judged probe went unanswered,
    ///   recorded as NaN (unknown) so that the series does not freeze at the last reply's value.
    func probe(client: Int, rtt: Duration?, lossRatio: Double) {
        gauge("havpn_probe_rtt_seconds", client: client).record(rtt?.secondsValue ?? .nan)
        gauge("havpn_probe_loss_ratio", client: client).record(lossRatio)
    }

    /// Removes the series of a shoot client the topology no longer has.
    func removeClient(_ client: Int) {
        for name in ["havpn_probe_rtt_seconds", "havpn_probe_loss_ratio", "havpn_shoot_client_healthy"] {
            gauge(name, client: client).destroy()
        }
    }

    /// 1 once a beacon reply was seen on the path; 0 while none was (its health series is then absent).
    func serverPathBeaconPeers(_ server: Int, _ seen: Bool) {
        gauge("havpn_server_path_beacon_peers", server: server).record(seen ? 1.0 : 0.0)
    }

    /// Removes the series of a VPN server the topology no longer has.
    func removeServer(_ server: Int) {
        for name in ["havpn_server_path_healthy", "havpn_server_path_beacon_peers"] {
            gauge(name, server: server).destroy()
        }
    }

    /// `havpn_build_info{version,commit} 1`: joins the binary's build to any other series.
    public func buildInfo(version: String, commit: String) {
        Gauge(label: "havpn_build_info", dimensions: [("version", version), ("commit", commit)], factory: factory)
            .record(1)
    }

    func clientHealthy(_ client: Int, _ healthy: Bool) {
        gauge("havpn_shoot_client_healthy", client: client).record(healthy ? 1.0 : 0.0)
    }

    func serverPathHealthy(_ server: Int, _ healthy: Bool) {
        gauge("havpn_server_path_healthy", server: server).record(healthy ? 1.0 : 0.0)
    }

    /// A per-shoot-client series (`client` label).
    private func gauge(_ name: String, client: Int) -> Gauge {
        Gauge(label: name, dimensions: [("client", "\(client)")], factory: factory)
    }

    /// A per-VPN-server series (`server` label).
    private func gauge(_ name: String, server: Int) -> Gauge {
        Gauge(label: name, dimensions: [("server", "\(server)")], factory: factory)
    }

    static func kind(_ action: PlanAction) -> String {
        switch action {
        case .setSysctl: "set_sysctl"
        case .deleteRoute: "delete_route"
        case .deleteAddress: "delete_address"
        case .deleteLink: "delete_link"
        case .createLink: "create_link"
        case .setLink: "set_link"
        case .addAddress: "add_address"
        case .addRoute: "add_route"
        case .replaceRoute: "replace_route"
        case .setRulesetChain: "set_ruleset_chain"
        }
    }

    /// The `# HELP` line of every family (swift-metrics carries none; ``PrometheusBackend`` adds them).
    static let helpText: [String: String] = [
        "havpn_reconciles_total": "Reconcile passes run.",
        "havpn_reconcile_errors_total": "Reconcile passes that failed.",
        "havpn_reconcile_duration_seconds": "Duration of reconcile passes (observe, plan, apply, verify).",
        "havpn_reconcile_backoff_seconds":
            "Wait before the next reconcile after consecutive failures (0: the last pass succeeded).",
        "havpn_drift_repairs_total": "Reconciles triggered by kernel events that changed something.",
        "havpn_config_reloads_total": "Topology file changes applied.",
        "havpn_config_reload_failures_total": "Topology file changes rejected (the last good topology keeps running).",
        "havpn_config_valid": "1 when the current topology file is valid, 0 when the last good one is in use.",
        "havpn_active_shoot_client": "apiserver role: shoot client the shoot networks are routed through (-1: none).",
        "havpn_path_switches_total": "apiserver role: switches of the active shoot client.",
        "havpn_preferred_server": "VPN server whose tap the bond prefers.",
        "havpn_server_path_switches_total": "Moves of the bond to another VPN server path.",
        "havpn_known_apiservers": "shoot role: apiserver instances known.",
        "havpn_apiserver_address_conflicts":
            "shoot role: bond addresses announced by two kube-apiserver pods (colliding indices).",
        "havpn_tunnels": "ip6tnl devices in the desired state.",
        "havpn_announcements_sent_total": "apiserver role: announcements sent.",
        "havpn_announcements_received_total": "shoot role: announcements accepted.",
        "havpn_ready": "1 when /readyz reports ready.",
        "havpn_build_info": "Always 1; the labels name the havpn version and the git commit it was built from.",
        "havpn_actions_total": "Plan actions applied, by kind.",
        "havpn_announcements_rejected_total": "Announcements ignored, by reason.",
        "havpn_probe_rtt_seconds":
            "apiserver role: last ICMPv6 probe round-trip time per shoot client (NaN while the last probe is unanswered).",
        "havpn_probe_loss_ratio": "apiserver role: probe loss ratio per shoot client.",
        "havpn_shoot_client_healthy": "apiserver role: 1 when the shoot client answers probes.",
        "havpn_server_path_healthy": "1 when the VPN server path answers beacons (absent while no peer ever answered).",
        "havpn_server_path_beacon_peers":
            "1 once a beacon reply was seen on the VPN server path; 0: no beacon peers (e.g. vpn2 pods), health unknown.",
    ]

    static let durationBuckets: [String: [Duration]] = [
        "havpn_reconcile_duration_seconds": [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
        ]
    ]
}
