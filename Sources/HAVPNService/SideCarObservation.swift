import HAVPNControl
import HAVPNModel
import HAVPNPlanner

/// What happened in the side-car's core, for the shell to log and count.
///
/// ``SideCarCore`` records these rather than writing logs and metrics itself, so that it stays a
/// function of events and instants that tests read without a log handler or a metrics backend.
/// The loop drains them after every turn and hands them to ``SideCarObserver``, the one place that
/// decides the lines and series operators, the e2e harness and the alert rules read. Each case says
/// what happened and carries what its line and series need.
enum SideCarObservation: Hashable, Sendable {
    // MARK: Start and topology

    /// The core was made; the routes use `activeShootClient` (the kernel's, or 0) until the path
    /// supervision chooses.
    case started(activeShootClient: Int)
    /// A topology file was read and is valid, whether or not it differs from the running one.
    case topologyValid
    /// A valid topology file that differs from the running topology replaced it.
    case topologyChanged(file: String)
    /// The topology no longer has this shoot client: its per-client series go.
    case shootClientRemoved(Int)
    /// The topology no longer has this VPN server: its per-server series go.
    case serverRemoved(Int)
    /// A topology file (or the reading of it) was rejected; the last good topology keeps running.
    /// `repeated`: the same message as the rejection before it (the error is logged once).
    case topologyRejected(message: String, repeated: Bool)

    // MARK: Reconcile

    /// A reconcile pass was handed to the kernel thread for a desired state with `tunnels` ip6tnl devices.
    case reconcileStarted(tunnels: Int)
    /// The planner could not compute the desired state; no pass starts.
    case desiredStateFailed(error: String)
    case reconciled(reasons: ReconcileReasons, applied: [PlanAction], duration: Duration)
    /// `backoff`: the wait before the next attempt; `failures`: consecutive failed passes, this one included.
    case reconcileFailed(error: String, reasons: ReconcileReasons, backoff: Duration, failures: Int)

    // MARK: apiserver role: shoot client paths

    /// The routes now use shoot client `to`; `from` is nil for the first choice after start.
    case shootClientSwitched(from: Int?, to: Int)
    case shootClientSwitchHeld(from: Int, to: Int)
    case shootClientKeptAfterHold(Int)
    case shootClientHealthChanged(client: Int, health: PathHealth)
    case pathReadinessChanged(Readiness)
    /// Loss and RTT of every shoot client judged so far, after a probe was answered or timed out.
    case probeStatistics([ProbeSample])

    // MARK: VPN server paths

    case bondMoved(from: Int, to: Int)
    case serverPathHealthChanged(server: Int, health: PathHealth)
    /// The path's health changed while no beacon peer ever answered on it: its health is unknown.
    case serverPathWithoutBeaconPeers(Int)
    /// The first beacon reply was heard on the path; `healthy`: its health at that moment.
    case serverPathBeaconPeersFound(server: Int, healthy: Bool)

    // MARK: Announcements and apiserver peers

    case announcementSent
    case announcementAccepted
    case announcementRejected(source: IPv6Address, reason: AnnouncementRejection)
    /// Two kube-apiserver pods were first seen announcing one bond address.
    case addressConflict(TunnelRegistry.AddressConflict)
    /// Bond addresses announced by two pods at once, now.
    case addressConflicts(count: Int)
    /// The shoot's set of apiserver peers changed; `count`: how many it knows now.
    case apiserverPeersChanged(count: Int)
}

/// One shoot client's probe statistics.
struct ProbeSample: Hashable, Sendable {
    var client: Int
    /// The last round-trip time; nil when the last judged probe went unanswered.
    var rtt: Duration?
    var lossRatio: Double
}
