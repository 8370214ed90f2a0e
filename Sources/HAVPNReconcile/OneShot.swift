import HAVPNModel
import HAVPNPlanner

extension Reconciler {
    /// The desired state for a one-shot run (`plan`, `apply`), and the one observation it was derived from.
    ///
    /// Without the run loop's controllers, keep what they last put into the kernel: the shoot client
    /// the routes point at, and the apiserver peers whose tunnels exist. Otherwise a one-shot apply
    /// would undo a path switch or drop tunnels learned from announcements. One dump serves both
    /// (a provisional desired state names the links whose addresses matter; learned tunnels have none).
    public func desiredAndObserved(
        topology: Topology,
        identity: Identity,
        activeClient: Int?
    ) throws(HAVPNError) -> (DesiredState, ObservedState) {
        let plan = AddressPlan(topology: topology)
        let provisional = try Planner.desiredState(
            topology: topology,
            identity: identity,
            inputs: ControllerInputs(activeShootClient: activeClient ?? 0)
        )
        let observed = try observe(for: provisional)
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

    /// What `havpn show` prints: the kernel state havpn owns (links with its alias and everything on them).
    public func observeOwned() throws(HAVPNError) -> ObservedState {
        let links = try netlink.observe(declaredLinks: [], sysctlKeys: [])
        let owned = Set(links.links.filter(\.owned).map(\.spec.name))
        return try netlink.observe(declaredLinks: owned, sysctlKeys: [])
    }
}
