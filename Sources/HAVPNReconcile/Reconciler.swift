import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner

/// What one reconcile pass did.
public struct ReconcileOutcome: Sendable {
    /// The plan computed from the first observation.
    public var plan: Plan
    /// Actions the kernel accepted, in order (all of `plan.actions` unless a later pass was needed).
    public var applied: [PlanAction]
    /// The plan computed after applying; empty when the kernel matches the topology.
    public var remaining: Plan
    public var duration: Duration

    public var converged: Bool { remaining.isEmpty }

    public init(plan: Plan, applied: [PlanAction], remaining: Plan, duration: Duration) {
        self.plan = plan
        self.applied = applied
        self.remaining = remaining
        self.duration = duration
    }
}

/// Observe → plan → apply → observe again (verify), against one network namespace.
///
/// Blocking: every call goes to the kernel. The run loop calls it from a dedicated thread.
/// A failure mid-apply leaves the kernel half-way; nothing is rolled back, because the next
/// pass plans from what is really there and converges (the planner is total over observed states).
public final class Reconciler {
    public let netlink: NetlinkClient
    /// Re-plans after apply: the kernel sometimes accepts a request yet reports a different value
    /// (e.g. a bond primary set before its slave exists), and one more pass settles it.
    public var verifyPasses = 2

    public init(netlink: NetlinkClient) { self.netlink = netlink }

    // MARK: Packet filter (issue 8): the ruleset goes to `firewall`, everything else to netlink.
    /// havpn's packet filter and NAT; nil: rulesets are neither observed, planned nor applied.
    public var firewall: FirewallClient?

    public convenience init(netlink: NetlinkClient, firewall: FirewallClient?) {
        self.init(netlink: netlink)
        self.firewall = firewall
    }

    /// `desired` as far as this reconciler manages it.
    func managed(_ desired: DesiredState) -> DesiredState {
        var d = desired
        if firewall == nil { d.ruleset = nil }
        return d
    }
    // MARK: -

    public func observe(for desired: DesiredState) throws(HAVPNError) -> ObservedState {
        var observed = try netlink.observe(
            declaredLinks: Set(desired.links.map(\.name)),
            sysctlKeys: desired.sysctls.map(\.key)
        )
        if let firewall, desired.ruleset != nil { observed.ruleset = try firewall.observe(expecting: desired.ruleset) }
        return observed
    }

    public func plan(_ desired: DesiredState) throws(HAVPNError) -> Plan {
        Planner.plan(desired: managed(desired), observed: try observe(for: managed(desired)))
    }

    /// Applies the difference, then verifies that a fresh plan is empty.
    /// - Parameter observed: a fresh observation to plan from, when the caller already has one.
    public func apply(_ desired: DesiredState, observed: ObservedState? = nil) throws(HAVPNError) -> ReconcileOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        let first: Plan
        if let observed {
            first = Planner.plan(desired: managed(desired), observed: observed)
        } else {
            first = try plan(desired)
        }
        var applied: [PlanAction] = []
        var current = first
        var passes = 0
        while !current.actions.isEmpty && passes < verifyPasses {
            passes += 1
            _ = try netlink.apply(current.actions.filter { !$0.isRulesetChange })
            if let firewall, let ruleset = desired.ruleset, current.actions.contains(where: \.isRulesetChange) {
                try firewall.apply(ruleset)  // the whole ruleset, in one transaction
            }
            applied += current.actions
            current = try plan(desired)
        }
        return ReconcileOutcome(plan: first, applied: applied, remaining: current, duration: clock.now - start)
    }
}
