import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile
import NIOPosix

/// Runs the blocking netlink work on one dedicated thread, off Swift's cooperative pool.
public final class KernelWorker: @unchecked Sendable {
    // @unchecked: `reconciler` (not Sendable: it owns netlink sockets) is only ever touched on
    // the pool's single thread, which also serialises reconcile passes.
    private let reconciler: Reconciler
    private let pool = NIOThreadPool(numberOfThreads: 1)

    /// `firewallBackend`: nil leaves the packet filter unmanaged.
    public init(netns: String?, firewallBackend: FirewallBackend? = nil) throws(HAVPNError) {
        reconciler = Reconciler(
            netlink: try NetlinkClient(netns: netns),
            firewall: try firewallBackend.map { b throws(HAVPNError) in try FirewallClient(netns: netns, backend: b) }
        )
        pool.start()
    }

    /// The firewall's change fingerprint right after the last apply, for ``rulesetDrifted()``
    /// (touched on the pool thread only).
    private var rulesetFingerprint: String?

    public func apply(_ desired: DesiredState) async throws -> ReconcileOutcome {
        try await pool.runIfActive {
            self.rulesetFingerprint = nil
            let outcome = try self.reconciler.apply(desired)
            self.recordBaseline(desired.ruleset)
            return outcome
        }
    }

    /// Pool thread only: the fingerprint ``rulesetDrifted()`` compares with. A hand edit between the
    /// pass's verifying observation and this reading would be taken for havpn's own state and wait
    /// for the resync (30 s; seen in user-mode-linux, where an iptables pass takes 0.1–3 s). So the
    /// chains are compared with `ruleset` once more after the reading (for iptables the observation
    /// cached at the same fingerprint, so nothing is spawned unless something changed), and a
    /// mismatch leaves a baseline no reading equals: the next check reconciles.
    private func recordBaseline(_ ruleset: Ruleset?) {
        guard let firewall = reconciler.firewall, let ruleset,
            let fingerprint = try? firewall.changeFingerprint(expecting: ruleset),
            let observed = try? firewall.observe(expecting: ruleset)
        else {
            rulesetFingerprint = nil
            return
        }
        let plan = Planner.plan(desired: DesiredState(ruleset: ruleset), observed: ObservedState(ruleset: observed))
        rulesetFingerprint = plan.isEmpty ? fingerprint : "unverified"
    }

    /// ``apply(_:)``'s last step alone, for a test of an edit that lands between the pass and it.
    package func recordRulesetBaseline(_ ruleset: Ruleset?) async {
        _ = try? await pool.runIfActive { self.recordBaseline(ruleset) }
    }

    /// Whether havpn's chains may have changed since the last apply. A ruleset change raises no
    /// rtnetlink event, so the run loop polls this every 250 ms. Cheap on both backends: one
    /// nftables list (~1 ms), or getsockopt of the iptables tables' sizes (no process spawned:
    /// iptables-legacy-save per pod four times a second would eat the lab's single CPU). nfnetlink
    /// monitoring would cover nftables only. False while nothing was applied or on a read error
    /// (the next reconcile reports that error); a false alarm costs one reconcile that plans empty.
    public func rulesetDrifted() async -> Bool {
        (try? await pool.runIfActive { () -> Bool in
            guard let firewall = self.reconciler.firewall, let before = self.rulesetFingerprint else { return false }
            return try firewall.changeFingerprint(expecting: nil) != before
        }) ?? false
    }

    public func observe() async throws -> ObservedState {
        try await pool.runIfActive {
            try self.reconciler.netlink.observe(declaredLinks: [], sysctlKeys: [])
        }
    }

    public func shutdown() async { try? await pool.shutdownGracefully() }
}
