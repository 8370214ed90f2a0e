import HAVPNModel
import HAVPNPlanner

/// What `NetlinkClient.apply` did.
public struct ApplyReport: Sendable {
    /// Actions the kernel accepted, in plan order.
    public var applied: [PlanAction] = []
    /// Actions the kernel refused. `apply` stops after the batch holding the first failure, so
    /// this lists that failure plus any other failure of the same batch (in plan order).
    public var failures: [ActionFailure] = []
    /// Wall-clock time of the whole call.
    public var duration: Duration = .zero
    /// Netlink requests sent, `sendto` calls made (many requests share one call) and datagrams
    /// received (one ack per send, plus one per failed request).
    public var netlinkRequests = 0
    public var netlinkSends = 0
    public var netlinkReceives = 0

    public init() {}

    public var succeeded: Bool { failures.isEmpty }
}

public struct ActionFailure: Sendable, Hashable {
    public var action: PlanAction
    public var error: HAVPNError

    public init(action: PlanAction, error: HAVPNError) {
        self.action = action
        self.error = error
    }
}

extension PlanAction {
    /// The kernel object the action touches, as it appears in errors.
    var kernelObject: String {
        switch self {
        case .setSysctl(let key, _, _): "sysctl \(key)"
        case .deleteRoute(let route), .addRoute(let route), .replaceRoute(_, let route): route.kernelObject
        case .deleteAddress(let address), .addAddress(let address): address.kernelObject
        case .deleteLink(let name, _), .setLink(let name, _, _): "link \(name)"
        case .createLink(let spec): "link \(spec.name)"
        case .setRulesetChain(let chain, _, _): "ruleset chain \(chain.rawValue)"
        }
    }
}

extension RouteSpec {
    var kernelObject: String {
        "route \(destination) dev \(device)" + (metric != 0 ? " metric \(metric)" : "")
    }
}

extension AddressSpec {
    var kernelObject: String { "address \(address)/\(prefixLength) dev \(device)" }
}
