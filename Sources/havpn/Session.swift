import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNService

/// Everything a one-shot command needs: the topology, this pod's identity, the kernel.
struct Session {
    let topology: Topology
    let identity: Identity
    let reconciler: Reconciler

    init(file: TopologyFileOptions, pod: PodOptions) throws(HAVPNError) {
        topology = try file.load()
        identity = try pod.identity(in: topology)
        reconciler = Reconciler(
            netlink: try NetlinkClient(netns: pod.netns),
            firewall: try FirewallClient(netns: pod.netns, backend: pod.firewallBackend ?? topology.filter.backend))
    }

    /// The desired state for a one-shot run, and the one observation it was derived from.
    ///
    /// Without the run loop's controllers, keep what they last put into the kernel: the shoot client
    /// the routes point at, and the apiserver peers whose tunnels exist. Otherwise a one-shot apply
    /// would undo a path switch or drop tunnels learned from announcements. One dump serves both
    /// (a provisional desired state names the links whose addresses matter; learned tunnels have none).
    func desiredAndObserved(activeClient: Int?) throws(HAVPNError) -> (DesiredState, ObservedState) {
        let plan = AddressPlan(topology: topology)
        let provisional = try Planner.desiredState(
            topology: topology, identity: identity, inputs: ControllerInputs(activeShootClient: activeClient ?? 0))
        let observed = try reconciler.observe(for: provisional)
        var inputs = ControllerInputs()
        switch identity.role {
        case .apiserver:
            inputs.activeShootClient = activeClient ?? ControllerInputs.activeShootClient(in: observed, plan: plan) ?? 0
        case .shoot:
            inputs.apiserverPeers = ControllerInputs.learnedApiserverPeers(in: observed, plan: plan)
        case .server:
            break
        }
        return (try Planner.desiredState(topology: topology, identity: identity, inputs: inputs), observed)
    }
}
