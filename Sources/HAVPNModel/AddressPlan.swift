/// The pure address and device-name plan, compatible with vpn2's defaults.
/// STUB: implemented by the planner work.
public struct AddressPlan: Hashable, Sendable {
    public let topology: Topology
    public init(topology: Topology) { self.topology = topology }
}
