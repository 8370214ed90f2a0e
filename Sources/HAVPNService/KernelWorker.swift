import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile
import NIOPosix
import Synchronization

/// Runs the blocking netlink work on one dedicated thread, off Swift's cooperative pool.
public final class KernelWorker: Sendable {
    private struct State {
        /// Not Sendable (it owns netlink sockets): used on the pool's single thread only, which
        /// also serialises reconcile passes, so the lock is never contended.
        var reconciler: Reconciler
        /// The firewall's change fingerprint right after the last apply, for ``rulesetDrifted()``.
        var rulesetFingerprint: String?
    }
    private let state: Mutex<State>
    private let pool = NIOThreadPool(numberOfThreads: 1)

    /// `firewallBackend`: nil leaves the packet filter unmanaged.
    public init(netns: String?, firewallBackend: FirewallBackend? = nil) throws(HAVPNError) {
        let reconciler = Reconciler(
            netlink: try NetlinkClient(netns: netns),
            firewall: try firewallBackend.map { b throws(HAVPNError) in try FirewallClient(netns: netns, backend: b) }
        )
        state = Mutex(State(reconciler: reconciler))
        pool.start()
    }

    public func apply(_ desired: DesiredState) async throws -> ReconcileOutcome {
        try await pool.runIfActive {
            try self.state.withLock { s in
                s.rulesetFingerprint = nil
                let outcome = try s.reconciler.apply(desired)
                s.rulesetFingerprint = Self.baseline(desired.ruleset, firewall: s.reconciler.firewall)
                return outcome
            }
        }
    }

    /// The fingerprint ``rulesetDrifted()`` compares with. A hand edit between the pass's verifying
    /// observation and this reading would be taken for havpn's own state and wait for the resync
    /// (30 s; seen in user-mode-linux, where an iptables pass takes 0.1–3 s). So the chains are
    /// compared with `ruleset` once more after the reading (for iptables an in-process reading of
    /// the tables, no child), and a mismatch leaves a baseline no reading equals: the next check
    /// reconciles.
    private static func baseline(_ ruleset: Ruleset?, firewall: FirewallClient?) -> String? {
        guard let firewall, let ruleset,
            let fingerprint = try? firewall.changeFingerprint(expecting: ruleset),
            let observed = try? firewall.observe(expecting: ruleset)
        else { return nil }
        let plan = Planner.plan(desired: DesiredState(ruleset: ruleset), observed: ObservedState(ruleset: observed))
        return plan.isEmpty ? fingerprint : "unverified"
    }

    /// ``apply(_:)``'s last step alone, for a test of an edit that lands between the pass and it.
    package func recordRulesetBaseline(_ ruleset: Ruleset?) async {
        _ = try? await pool.runIfActive {
            self.state.withLock { s in s.rulesetFingerprint = Self.baseline(ruleset, firewall: s.reconciler.firewall) }
        }
    }

    /// Whether havpn's chains may have changed since the last apply. A ruleset change raises no
    /// rtnetlink event, so the run loop polls this every 250 ms. Cheap on both backends: one
    /// nftables list (~1 ms), or getsockopt of the iptables tables' sizes (no process spawned:
    /// iptables-legacy-save per pod four times a second would eat the lab's single CPU). nfnetlink
    /// monitoring would cover nftables only. False while nothing was applied or on a read error
    /// (the next reconcile reports that error); a false alarm costs one reconcile that plans empty.
    public func rulesetDrifted() async -> Bool {
        (try? await pool.runIfActive { () -> Bool in
            try self.state.withLock { s in
                guard let firewall = s.reconciler.firewall, let before = s.rulesetFingerprint else { return false }
                return try firewall.changeFingerprint(expecting: nil) != before
            }
        }) ?? false
    }

    public func observe() async throws -> ObservedState {
        try await pool.runIfActive {
            try self.state.withLock { s in try s.reconciler.netlink.observe(declaredLinks: [], sysctlKeys: []) }
        }
    }

    /// Runs `body` on the worker's thread and waits for it: for opening sockets inside the pod's
    /// namespace, which enters it on the calling thread (never a cooperative-pool thread).
    func onKernelThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Queues `body` on the worker's thread, after any pass in progress, without waiting.
    func perform(_ body: @escaping @Sendable () -> Void) {
        pool.submit { if case .active = $0 { body() } }
    }

    public func shutdown() async { try? await pool.shutdownGracefully() }
}
