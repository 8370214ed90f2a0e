internal import CNetlink
import HAVPNModel
import HAVPNPlanner

/// STUB: implemented by the netlink work.
public final class NetlinkClient {
    public init(netns: String? = nil) throws(HAVPNError) {}
    public func observe(declaredLinks: Set<String>, sysctlKeys: [String]) throws(HAVPNError) -> ObservedState {
        ObservedState()
    }
    public func apply(_ actions: [PlanAction]) throws(HAVPNError) -> Int { 0 }
}
