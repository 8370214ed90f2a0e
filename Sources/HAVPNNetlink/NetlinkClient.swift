internal import CNetlink
import HAVPNModel
import HAVPNPlanner

/// STUB: implemented by the netlink work.
public final class NetlinkClient {
    public init(netns: String? = nil) throws(HAVPNError) {}
}
