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

    public func apply(_ desired: DesiredState) async throws -> ReconcileOutcome {
        try await pool.runIfActive { try self.reconciler.apply(desired) }
    }

    public func observe() async throws -> ObservedState {
        try await pool.runIfActive {
            try self.reconciler.netlink.observe(declaredLinks: [], sysctlKeys: [])
        }
    }

    public func shutdown() async { try? await pool.shutdownGracefully() }
}
