import HAVPNPlanner
import Prometheus

/// Every metric the side-car exports on /metrics (Prometheus text format).
public final class SideCarMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    let reconciles: Counter
    let reconcileErrors: Counter
    let reconcileDuration: DurationHistogram
    let driftRepairs: Counter
    let configReloads: Counter
    let configReloadFailures: Counter
    let configValid: Gauge
    let activeShootClient: Gauge
    let pathSwitches: Counter
    let preferredServer: Gauge
    let serverPathSwitches: Counter
    let knownApiservers: Gauge
    let apiserverAddressConflicts: Gauge
    let tunnels: Gauge
    let announcementsSent: Counter
    let announcementsReceived: Counter
    let ready: Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        reconciles = registry.makeCounter(descriptor: Self.name("havpn_reconciles_total", "Reconcile passes run."))
        reconcileErrors = registry.makeCounter(descriptor: Self.name("havpn_reconcile_errors_total", "Reconcile passes that failed."))
        reconcileDuration = registry.makeDurationHistogram(
            descriptor: Self.name("havpn_reconcile_duration_seconds", "Duration of reconcile passes (observe, plan, apply, verify)."),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5)])
        driftRepairs = registry.makeCounter(descriptor: Self.name("havpn_drift_repairs_total", "Reconciles triggered by kernel events that changed something."))
        configReloads = registry.makeCounter(descriptor: Self.name("havpn_config_reloads_total", "Topology file changes applied."))
        configReloadFailures = registry.makeCounter(descriptor: Self.name("havpn_config_reload_failures_total", "Topology file changes rejected (the last good topology keeps running)."))
        configValid = registry.makeGauge(descriptor: Self.name("havpn_config_valid", "1 when the current topology file is valid, 0 when the last good one is in use."))
        activeShootClient = registry.makeGauge(descriptor: Self.name("havpn_active_shoot_client", "apiserver role: shoot client the shoot networks are routed through (-1: none)."))
        pathSwitches = registry.makeCounter(descriptor: Self.name("havpn_path_switches_total", "apiserver role: switches of the active shoot client."))
        preferredServer = registry.makeGauge(descriptor: Self.name("havpn_preferred_server", "VPN server whose tap the bond prefers."))
        serverPathSwitches = registry.makeCounter(descriptor: Self.name("havpn_server_path_switches_total", "Moves of the bond to another VPN server path."))
        knownApiservers = registry.makeGauge(descriptor: Self.name("havpn_known_apiservers", "shoot role: apiserver instances known."))
        apiserverAddressConflicts = registry.makeGauge(
            descriptor: Self.name("havpn_apiserver_address_conflicts", "shoot role: bond addresses announced by two kube-apiserver pods (colliding indices)."))
        tunnels = registry.makeGauge(descriptor: Self.name("havpn_tunnels", "ip6tnl devices in the desired state."))
        announcementsSent = registry.makeCounter(descriptor: Self.name("havpn_announcements_sent_total", "apiserver role: announcements sent."))
        announcementsReceived = registry.makeCounter(descriptor: Self.name("havpn_announcements_received_total", "shoot role: announcements accepted."))
        ready = registry.makeGauge(descriptor: Self.name("havpn_ready", "1 when /readyz reports ready."))
    }

    func actions(_ actions: [PlanAction]) {
        for action in actions {
            registry.makeCounter(descriptor: Self.name("havpn_actions_total", "Plan actions applied, by kind."), labels: [("kind", Self.kind(action))]).increment()
        }
    }

    func announcementRejected(_ reason: String) {
        registry.makeCounter(descriptor: Self.name("havpn_announcements_rejected_total", "Announcements ignored, by reason."), labels: [("reason", reason)]).increment()
    }

    func probe(client: Int, rtt: Duration?, lossRatio: Double) {
        let label = [("client", "\(client)")]
        if let rtt {
            registry.makeGauge(descriptor: Self.name("havpn_probe_rtt_seconds", "apiserver role: last ICMPv6 probe round-trip time per shoot client."), labels: label)
                .set(to: Double(rtt.components.seconds) + Double(rtt.components.attoseconds) / 1e18)
        }
        registry.makeGauge(descriptor: Self.name("havpn_probe_loss_ratio", "apiserver role: probe loss ratio per shoot client."), labels: label).set(to: lossRatio)
    }

    func clientHealthy(_ client: Int, _ healthy: Bool) {
        registry.makeGauge(descriptor: Self.name("havpn_shoot_client_healthy", "apiserver role: 1 when the shoot client answers probes."), labels: [("client", "\(client)")]).set(to: healthy ? 1.0 : 0.0)
    }

    func serverPathHealthy(_ server: Int, _ healthy: Bool) {
        registry.makeGauge(descriptor: Self.name("havpn_server_path_healthy", "1 when the VPN server path answers beacons."), labels: [("server", "\(server)")]).set(to: healthy ? 1.0 : 0.0)
    }

    /// A full metric name (the unit is part of it) with its help text.
    static func name(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
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
}
