import HAVPNModel
import HAVPNPlanner
import Testing

/// What the kernel holds after a reconcile was cut off (SIGKILL, a crashed `apply`) must not be
/// mistaken for what the topology wants (found by scripts/fault-tests, scenario sigkill).
@Suite struct InterruptedReconcileTests {
    static let yaml = """
        apiVersion: havpn/v1
        apiservers:
          - {index: 1, podIPs: [10.64.0.1, 10.64.0.2, 10.64.0.3]}
        """

    @Test func aDeclaredApiserverKeepsItsDeclaredPodIPsWhenSomeBackRoutesAreMissing() throws {
        let topology = try TopologyDecoder.decode(yaml: Self.yaml, file: "t.yaml")
        let identity = try Identity.resolve(
            role: .shoot,
            index: 0,
            bondAddress: nil,
            podName: nil,
            podIP: nil,
            topology: topology
        )
        let plan = AddressPlan(topology: topology)
        let full = try Planner.desiredState(topology: topology, identity: identity, inputs: ControllerInputs())
        // Converge, then lose one back route as an interrupted apply would leave it.
        var observed = Planner.simulate(Planner.plan(desired: full, observed: ObservedState()), on: ObservedState())
        let lost = IPAddress("10.64.0.2")!
        observed.routes.removeAll { $0.spec.destination.address == lost }

        let peers = ControllerInputs.learnedApiserverPeers(in: observed, plan: plan)
        let declared: [IPAddress] = ["10.64.0.1", "10.64.0.2", "10.64.0.3"].map { IPAddress($0)! }
        #expect(peers.map { $0.podIPs } == [declared])
        let desired = try Planner.desiredState(
            topology: topology,
            identity: identity,
            inputs: ControllerInputs(apiserverPeers: peers)
        )
        let again = Planner.plan(desired: desired, observed: observed)
        let lines = again.actions.map { PlanRenderer.line($0) }
        #expect(lines.contains { $0.contains("10.64.0.2/32") }, "\(lines)")
    }
}
