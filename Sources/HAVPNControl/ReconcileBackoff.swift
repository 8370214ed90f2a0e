/// How long the side-car waits before it retries a reconcile that failed.
///
/// Policy: the first failure waits `initial` (default 500 ms), every further consecutive failure
/// doubles the wait up to `maximum` (default 30 s); a successful pass resets it. A failure that
/// will not go away by itself (a read-only `/proc/sys`, a missing kernel module) then costs one
/// attempt every 30 s instead of two a second, and a transient one (a partial apply racing
/// another writer) is still retried at once. While the wait runs, every trigger (kernel drift
/// included: a partial apply raises its own events) is held until ``retryAt``; ``expedite()``
/// lifts the wait for a change that may be the fix (a new topology) without forgetting the
/// failures, so a change that fixes nothing does not reset the rhythm.
public struct ReconcileBackoff: Hashable, Sendable {
    public struct Configuration: Hashable, Sendable {
        public var initial: Duration
        public var maximum: Duration
        public init(initial: Duration = .milliseconds(500), maximum: Duration = .seconds(30)) {
            precondition(initial > .zero && maximum >= initial)
            self.initial = initial
            self.maximum = maximum
        }
    }

    public let configuration: Configuration
    /// Failed passes since the last success.
    public private(set) var consecutiveFailures = 0
    /// The wait chosen after the last failure; zero after a success.
    public private(set) var delay: Duration = .zero
    /// No reconcile starts before this instant; nil when none is held back.
    public private(set) var retryAt: Instant?

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// Records a failed pass at `now`; returns the wait before the next one.
    @discardableResult
    public mutating func failed(at now: Instant) -> Duration {
        consecutiveFailures += 1
        // Doubling by repeated comparison, not by 2^n: no overflow however long the failures last.
        var wait = configuration.initial
        var doublings = consecutiveFailures - 1
        while doublings > 0 && wait < configuration.maximum {
            wait = wait * 2
            doublings -= 1
        }
        delay = min(wait, configuration.maximum)
        retryAt = now + delay
        return delay
    }

    /// Records a successful pass: the next failure starts again at `initial`.
    public mutating func succeeded() {
        consecutiveFailures = 0
        delay = .zero
        retryAt = nil
    }

    /// Lets the next reconcile start at once, keeping the count of failures.
    public mutating func expedite() { retryAt = nil }

    /// Whether a reconcile may start at `now`.
    public func allows(at now: Instant) -> Bool {
        guard let retryAt else { return true }
        return now >= retryAt
    }
}
