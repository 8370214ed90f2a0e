import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile

/// Everything a one-shot command needs: the topology, this pod's identity, the kernel.
struct Session {
    let topology: Topology
    let identity: Identity
    let reconciler: Reconciler

    init(file: TopologyFileOptions, pod: PodOptions) throws(HAVPNError) {
        topology = try file.loadForOneShot()
        identity = try pod.identity(in: topology)
        reconciler = Reconciler(
            netlink: try NetlinkClient(netns: pod.netns),
            firewall: try FirewallClient(netns: pod.netns, backend: pod.firewallBackend ?? topology.filter.backend)
        )
    }

    /// See ``Reconciler/desiredAndObserved(topology:identity:activeClient:)``.
    func desiredAndObserved(activeClient: Int?) throws(HAVPNError) -> (DesiredState, ObservedState) {
        try reconciler.desiredAndObserved(topology: topology, identity: identity, activeClient: activeClient)
    }
}
