import HAVPNControl
import Metrics

/// The CONNECT proxy's metrics, through the swift-metrics façade (the side-car bootstraps the backend;
/// tests pass a `TestMetrics` factory). Every name starts with `havpn_proxy_`.
public struct ConnectProxyMetrics: Sendable {
    /// Tunnels relaying now.
    let openTunnels: Gauge
    /// Tunnels opened since start (a 200 was sent).
    let tunnels: Counter
    /// Bytes relayed from the client to the target.
    let bytesToTarget: Counter
    /// Bytes relayed from the target to the client.
    let bytesToClient: Counter
    /// Time from the decision to relay until the target's TCP handshake completed (or failed).
    let connectDuration: Metrics.Timer
    let refusals: [ConnectRefusal: Counter]
    let connectFailures: [ConnectFailure: Counter]

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        openTunnels = Gauge(label: "havpn_proxy_open_tunnels", factory: factory)
        tunnels = Counter(label: "havpn_proxy_tunnels_total", factory: factory)
        bytesToTarget = Counter(label: "havpn_proxy_bytes_total", dimensions: [("direction", "to_target")], factory: factory)
        bytesToClient = Counter(label: "havpn_proxy_bytes_total", dimensions: [("direction", "to_client")], factory: factory)
        connectDuration = Metrics.Timer(label: "havpn_proxy_connect_duration_seconds", factory: factory)
        var refusals: [ConnectRefusal: Counter] = [:]
        for reason in ConnectRefusal.allCases {
            refusals[reason] = Counter(label: "havpn_proxy_refusals_total", dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        self.refusals = refusals
        var failures: [ConnectFailure: Counter] = [:]
        for reason in ConnectFailure.allCases {
            failures[reason] = Counter(
                label: "havpn_proxy_connect_failures_total", dimensions: [("reason", reason.rawValue)], factory: factory)
        }
        connectFailures = failures
    }

    func refused(_ reason: ConnectRefusal) { refusals[reason]?.increment() }
    func failed(_ failure: ConnectFailure) { connectFailures[failure]?.increment() }
}
