/// Chooses the one path (a shoot client, or a VPN server's segment) traffic uses, from per-path health.
///
/// Policy, applied on every health change and on ``nextDeadline``:
/// 1. **Keep** the active path unless it is `.dead` (an `.unknown` active path, e.g. the bond's
///    primary right after start, is kept until proven dead: moving away from it on the first
///    reply of another path would only cause a needless switch and a fail-back).
/// 2. Otherwise move to the **lowest-index healthy** path (deterministic, unlike vpn2's Go-map
///    order). With a `failoverHold`, away from a dead active path only to a path that has been
///    healthy *continuously* for that long: when every path flaps (a starved VPN server, a
///    throttled node), moving between them only adds a failover each time, and each move of a
///    bond takes its pod to another segment than its peers. A path proven stable is taken at
///    once, so a partition of one server among healthy ones is still left without delay.
/// 3. If no path is healthy, **keep** the active path and report it: a route over a path that may
///    recover (a restarting openvpn, a lossy link) beats no route, and the first healthy path
///    takes over the moment it is proven healthy.
/// 4. Optional **fail-back** (`failbackHold` non-nil): when a lower-index path than the active one
///    has been healthy *continuously* for `failbackHold` and the last switch is at least
///    `failbackHold` old, move back to it. Every endpoint thus converges on the same preferred
///    segment (the reason for the bond's `primary tap0` in vpn2 PR #25), and a path that flaps
///    restarts its hold each time it dies, so a flapping path causes no switch at all.
///    With hold H the selector switches at most once per H, except for fail-overs away from dead paths.
/// 5. With fail-back, **completeness** (optional, per path; all paths complete by default): a path
///    is complete when it reaches every peer the pod hears on any path. Fail-back goes only to a
///    path that has been healthy *and* complete continuously for the hold, and an active path that
///    is healthy but has been incomplete for three holds is left for the lowest such path. Every
///    endpoint then starts its hold when the last peer reaches the lower segment, so they all move
///    within a probe round of each other instead of one by one as their VPN clients reconnect
///    (each early mover would be cut off from the peers still on the other segment).
public struct PathSelector: Hashable, Sendable {
    public enum Decision: Hashable, Sendable {
        case switchActive(from: Int?, to: Int)
    }

    public let failbackHold: Duration?
    public let failoverHold: Duration?
    public private(set) var active: Int?
    public private(set) var lastSwitchAt: Instant?
    private var healthySince: [Instant?] = []
    private var completeSince: [Instant?] = []
    private var incompleteSince: [Instant?] = []
    private var lastHealth: [PathHealth] = []
    private var lastComplete: [Bool] = []

    public init(initialActive: Int? = nil, failbackHold: Duration? = nil, failoverHold: Duration? = nil) {
        self.active = initialActive
        self.failbackHold = failbackHold
        self.failoverHold = failoverHold
    }

    /// True when the active path is proven healthy.
    public var activeIsHealthy: Bool {
        guard let active, lastHealth.indices.contains(active) else { return false }
        return lastHealth[active] == .healthy
    }

    /// When a pending fail-back or a held fail-over becomes due (call ``update(health:at:)`` then), if any.
    public var nextDeadline: Instant? {
        guard let active else { return nil }
        if lastHealth.indices.contains(active), lastHealth[active] == .dead {
            guard let hold = failoverHold else { return nil }
            return healthySince.compactMap { $0 }.min().map { $0 + hold }
        }
        guard let hold = failbackHold, let p = preferred, p != active, p < active || !isComplete(active),
            let due = moveDue(from: active, to: p, hold: hold)
        else { return nil }
        return due
    }

    /// The lowest path that is healthy and complete.
    private var preferred: Int? { lastHealth.indices.first { lastHealth[$0] == .healthy && isComplete($0) } }

    private func isComplete(_ path: Int) -> Bool { !lastComplete.indices.contains(path) || lastComplete[path] }

    /// When a move from `active` to `target` falls due: the target healthy and complete for the
    /// hold H, the last switch H old, and for a move to a higher path also the active path
    /// incomplete for 3·H. A pod that dies or restarts drops out of (or rejoins) the paths one VPN
    /// client at a time, which is no reason to move; a peer cut off from the active path for good is.
    private func moveDue(from active: Int, to target: Int, hold: Duration) -> Instant? {
        guard let settled = settledSince(target) else { return nil }
        var due = max(settled + hold, (lastSwitchAt ?? settled) + hold)
        if target > active {
            guard incompleteSince.indices.contains(active), let incomplete = incompleteSince[active] else { return nil }
            due = max(due, incomplete + hold * 3)
        }
        return due
    }

    /// Since when `path` has been both healthy and complete.
    private func settledSince(_ path: Int) -> Instant? {
        guard let h = healthySince[path] else { return nil }
        guard completeSince.indices.contains(path) else { return h }
        return completeSince[path].map { max($0, h) }
    }

    /// The lowest path healthy for at least `hold` (any healthy path without a hold).
    private func stable(for hold: Duration?, at now: Instant) -> Int? {
        healthySince.indices.first { i in
            guard let since = healthySince[i] else { return false }
            return now - since >= (hold ?? .zero)
        }
    }

    /// Puts the selector back on `path` without counting a switch (the caller vetoed the last
    /// choice); what it knows about every path's health stays.
    public mutating func keep(_ path: Int) { active = path }

    /// Takes the current health of every path (index = path) and, optionally, whether each path
    /// is complete (reaches every known peer; nil: all are), and returns a switch, if one is due.
    public mutating func update(health: [PathHealth], complete: [Bool]? = nil, at now: Instant) -> Decision? {
        let complete = complete ?? Array(repeating: true, count: health.count)
        precondition(complete.count == health.count, "one completeness per path")
        Self.track(&healthySince, health.map { $0 == .healthy }, at: now)
        Self.track(&completeSince, complete, at: now)
        Self.track(&incompleteSince, complete.map { !$0 }, at: now)
        lastHealth = health
        lastComplete = complete
        if let a = active, !health.indices.contains(a) { active = nil }

        if let a = active, health[a] != .dead {
            // Keep; consider a fail-back to a lower-index path, or leaving an incomplete one.
            guard let hold = failbackHold, let p = preferred, p != a, p < a || !complete[a],
                let due = moveDue(from: a, to: p, hold: hold), now >= due
            else { return nil }
            return move(to: p, at: now)
        }
        // Nothing (stably) healthy: keep the active path. Without an active path there is
        // nothing to protect, so any healthy one is taken.
        guard
            let p = active == nil
                ? preferred ?? lastHealth.firstIndex(of: .healthy) : stable(for: failoverHold, at: now)
        else { return nil }
        return move(to: p, at: now)
    }

    /// `since[i]`: since when `condition[i]` has held continuously (nil while it does not).
    private static func track(_ since: inout [Instant?], _ condition: [Bool], at now: Instant) {
        if since.count != condition.count {
            since =
                Array(since.prefix(condition.count))
                + Array(repeating: nil, count: max(0, condition.count - since.count))
        }
        for i in condition.indices {
            if condition[i] {
                if since[i] == nil { since[i] = now }
            } else {
                since[i] = nil
            }
        }
    }

    private mutating func move(to p: Int, at now: Instant) -> Decision {
        let from = active
        active = p
        lastSwitchAt = now
        return .switchActive(from: from, to: p)
    }
}
