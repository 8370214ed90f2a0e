import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
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
            firewall: try firewallBackend.map { b throws(HAVPNError) in try FirewallClient(netns: netns, backend: b) })
        pool.start()
    }

    /// The ruleset of the last apply, for ``rulesetDrifted()`` (touched on the pool thread only).
    private var lastRuleset: Ruleset?

    public func apply(_ desired: DesiredState) async throws -> ReconcileOutcome {
        try await pool.runIfActive {
            self.lastRuleset = desired.ruleset
            return try self.reconciler.apply(desired)
        }
    }

    /// Whether havpn's chains differ from the last applied ruleset. A ruleset change raises no
    /// rtnetlink event, so the run loop polls this every second: one nftables list (~1 ms) or one
    /// iptables-legacy-save per family. Polling covers both backends alike, where nfnetlink
    /// monitoring would cover nftables only. False while nothing was applied or on a read error
    /// (the next reconcile reports that error).
    public func rulesetDrifted() async -> Bool {
        (try? await pool.runIfActive { () -> Bool in
            guard let firewall = self.reconciler.firewall, let ruleset = self.lastRuleset else { return false }
            return try firewall.observe(expecting: ruleset).chains != ruleset.fingerprint
        }) ?? false
    }

    public func observe() async throws -> ObservedState {
        try await pool.runIfActive {
            try self.reconciler.netlink.observe(declaredLinks: [], sysctlKeys: [])
        }
    }

    public func shutdown() async { try? await pool.shutdownGracefully() }
}
