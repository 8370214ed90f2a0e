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
        reconciler = Reconciler(netlink: try NetlinkClient(netns: pod.netns))
    }

    /// The controllers' inputs for a one-shot run. Without the run loop's controllers, keep what
    /// they last put into the kernel: the shoot client the routes point at, and the apiserver
    /// peers whose tunnels exist. Otherwise a one-shot apply would undo a path switch or drop
    /// tunnels learned from announcements.
    func inputs(activeClient: Int?) throws(HAVPNError) -> ControllerInputs {
        let plan = AddressPlan(topology: topology)
        let observed = try reconciler.netlink.observe(declaredLinks: [], sysctlKeys: [])
        var inputs = ControllerInputs()
        switch identity.role {
        case .apiserver:
            inputs.activeShootClient = activeClient ?? ControllerInputs.activeShootClient(in: observed, plan: plan) ?? 0
        case .shoot:
            inputs.apiserverPeers = ControllerInputs.learnedApiserverPeers(in: observed, plan: plan)
        case .server:
            break
        }
        return inputs
    }

    func desired(activeClient: Int?) throws(HAVPNError) -> DesiredState {
        try Planner.desiredState(topology: topology, identity: identity, inputs: inputs(activeClient: activeClient))
    }
}
