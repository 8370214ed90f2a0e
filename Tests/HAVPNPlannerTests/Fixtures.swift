import HAVPNModel
import HAVPNPlanner
import Testing

/// Shared values for the fixture triples: vpn2's default topology seen from apiserver 1 and shoot 0.
enum Fx {
    static let topology = Topology()
    static let addressPlan = AddressPlan(topology: topology)
    static let apiserverAddress = addressPlan.apiserverBondAddress(1)
    static let shootAddress = addressPlan.shootClientBondAddress(0)
    static let bond = BondSpec(
        mode: .activeBackup,
        miimon: 100,
        failOverMAC: .active,
        useCarrier: true,
        primary: "tap0",
        numPeerNotif: 5
    )
    static let services = IPNetwork("100.64.0.0/13")!
    static let pods = IPNetwork("100.96.0.0/11")!
    static let staticProto: UInt8 = 4
    static let kernelProto: UInt8 = 2

    static func apiserver(active: Int = 0) -> DesiredState {
        try! Planner.desiredState(
            topology: topology,
            identity: Identity(role: .apiserver, index: 1),
            inputs: ControllerInputs(activeShootClient: active)
        )
    }

    static func peer(_ index: Int, _ ips: String...) -> ApiserverPeer {
        ApiserverPeer(bondAddress: addressPlan.apiserverBondAddress(index), podIPs: ips.map { IPAddress($0)! })
    }

    static func shoot(peers: [ApiserverPeer]) -> DesiredState {
        try! Planner.desiredState(
            topology: topology,
            identity: Identity(role: .shoot, index: 0),
            inputs: ControllerInputs(apiserverPeers: peers)
        )
    }

    /// What the kernel looks like after havpn applied `desired` to an empty namespace.
    static func converged(_ desired: DesiredState) -> ObservedState {
        Planner.simulate(Planner.plan(desired: desired, observed: ObservedState()), on: ObservedState())
    }

    static func tunnel(_ j: Int) -> TunnelSpec {
        TunnelSpec(local: apiserverAddress, remote: addressPlan.shootClientBondAddress(j))
    }

    static var bondAddress: AddressSpec {
        AddressSpec(device: "bond0", address: .v6(apiserverAddress), prefixLength: 104)
    }

    static func route(_ net: IPNetwork, _ dev: String, metric: Int = 0) -> RouteSpec {
        RouteSpec(destination: net, device: dev, metric: metric)
    }
}

extension ObservedState {
    /// Mutates the link called `name` in place.
    func link(_ name: String, _ change: (inout ObservedLink) -> Void) -> ObservedState {
        var s = self
        if let i = s.links.firstIndex(where: { $0.spec.name == name }) { change(&s.links[i]) }
        return s
    }

    func with(_ change: (inout ObservedState) -> Void) -> ObservedState {
        var s = self
        change(&s)
        return s
    }
}

/// One nmstate-style triple: observed, desired, and the expected plan (actions and conflicts).
struct PlanFixture: Sendable, CustomTestStringConvertible {
    var name: String
    var observed: ObservedState
    var desired: DesiredState
    var expected: [PlanAction]
    /// Substrings, one per expected conflict, in the plan's (sorted) order.
    var conflicts: [String] = []
    var testDescription: String { name }
}
