/// Decides when the run loop reconciles: coalesces bursts of triggers into one run.
///
/// Policy: the first trigger opens a batch; every further trigger extends it by `window`
/// (default 5 ms of quiet), but the batch runs no later than `maxDelay` (default 100 ms) after its
/// **first** trigger. Hence the run deadline is `min(last + window, first + maxDelay)`, and
/// **no trigger waits more than `maxDelay`** before a run starts (it arrived at or after
/// `first`), which meets the 100 ms p99 drift-repair target when a run is quicker than the
/// remaining budget. Triggers that arrive while a run is being carried out open the next batch.
///
/// Why 5 ms: the kernel sends a burst such as "link down + its addresses + its routes" from one
/// operation, so its events are microseconds apart; the window only has to outlast the monitor
/// thread handing them over. Every millisecond of it is added to each drift repair (it was 20 ms,
/// most of the 23 ms median repair). A burst that is split anyway costs one more pass, which finds
/// the rest to do or nothing.
///
/// A netlink overflow (`ENOBUFS`: events were lost, the observed state is unknown) or the
/// periodic resync timer marks the batch `fullResync`: the run loop re-dumps the kernel state
/// instead of trusting its cache.
public struct ReconcileTrigger: Sendable {
    public enum DriftKind: String, Hashable, Sendable, CaseIterable {
        case link, address, route, rule, neighbour, other
    }

    public enum Reason: Hashable, Sendable {
        /// The topology file (or another input of the desired state) changed.
        case configChanged
        /// A netlink notification about a managed object.
        case drift(DriftKind)
        /// The periodic resync timer.
        case timer
        /// A controller changed the desired state (active client, peers, active tap).
        case controllerInput
        /// The netlink socket overflowed.
        case netlinkOverflow

        var requiresFullResync: Bool { self == .timer || self == .netlinkOverflow }
    }

    public struct Configuration: Hashable, Sendable {
        public var window: Duration
        public var maxDelay: Duration
        public init(window: Duration = .milliseconds(5), maxDelay: Duration = .milliseconds(100)) {
            precondition(window >= .zero && maxDelay >= window)
            self.window = window
            self.maxDelay = maxDelay
        }
    }

    /// A reconcile to carry out now.
    public struct Run: Hashable, Sendable {
        public var reasons: Set<Reason>
        public var fullResync: Bool
        /// When the oldest trigger of this batch arrived (for the drift-repair latency metric).
        public var firstTriggerAt: Instant
        public var triggerCount: Int
    }

    public let configuration: Configuration
    private var batch: Run?
    private var lastTriggerAt: Instant?

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// When the pending batch is due (call ``tick(at:)`` then); nil when nothing is pending.
    public var deadline: Instant? {
        guard let batch, let last = lastTriggerAt else { return nil }
        return min(last + configuration.window, batch.firstTriggerAt + configuration.maxDelay)
    }

    public var isPending: Bool { batch != nil }

    public mutating func trigger(_ reason: Reason, at now: Instant) {
        if batch == nil {
            batch = Run(reasons: [], fullResync: false, firstTriggerAt: now, triggerCount: 0)
        }
        batch!.reasons.insert(reason)
        batch!.fullResync = batch!.fullResync || reason.requiresFullResync
        batch!.triggerCount += 1
        lastTriggerAt = now
    }

    /// The batch to run, if it is due at `now`; it is then cleared.
    public mutating func tick(at now: Instant) -> Run? {
        guard let due = deadline, now >= due, let run = batch else { return nil }
        batch = nil
        lastTriggerAt = nil
        return run
    }
}
