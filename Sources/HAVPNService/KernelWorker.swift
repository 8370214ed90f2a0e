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
            if let firewall = self.reconciler.firewall, desired.ruleset != nil {
                self.rulesetFingerprint = try? firewall.changeFingerprint(expecting: desired.ruleset)
            }
            return outcome
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
