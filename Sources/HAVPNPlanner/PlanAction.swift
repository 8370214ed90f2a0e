import HAVPNModel

/// One in-place change of an existing link.
public enum LinkChange: Hashable, Sendable {
    /// Enslave to a bond (`name`) or release (nil).
    case master(String?)
    case up(Bool)
    case mtu(Int)
    /// Bond options the kernel can change while slaves are attached.
    case bondMiimon(Int)
    case bondUseCarrier(Bool)
    case bondPrimary(String?)
    case bondNumPeerNotif(Int)
    /// ip6tnl endpoints.
    case tunnelEndpoints(TunnelSpec)
    /// Mark the link as havpn's (IFLA_IFALIAS), e.g. one that existed before havpn declared it.
    case adopt
}

/// One step of a plan. A plan is an ordered list of these: everything is created after what it
/// needs and deleted before what it needs.
public enum PlanAction: Hashable, Sendable {
    case setSysctl(key: String, from: String?, to: String)
    case deleteRoute(RouteSpec)
    case deleteAddress(AddressSpec)
    case deleteLink(name: String, kind: String)
    /// Create a link with all of its options but without master, down; `setLink` follows for those.
    case createLink(LinkSpec)
    case setLink(name: String, change: LinkChange, from: String)
    case addAddress(AddressSpec)
    case addRoute(RouteSpec)
    /// Point an existing owned route (same destination and metric) at another device: one kernel request.
    case replaceRoute(from: RouteSpec, to: RouteSpec)
    /// Make one owned chain hold `to` (rule ids) where it holds `from`; [] on either side creates or
    /// removes the chain. All of a plan's chain changes are applied together, as one transaction.
    case setRulesetChain(RulesetChain, from: [String], to: [String])

    /// Applied by the firewall client, not by netlink.
    public var isRulesetChange: Bool {
        if case .setRulesetChain = self { return true }
        return false
    }
}

/// The result of planning: the ordered actions plus what could not be planned without touching
/// foreign objects (reported, never acted on).
public struct Plan: Hashable, Sendable {
    public var actions: [PlanAction]
    public var conflicts: [HAVPNError]
    /// Pieces of the data plane the topology turned off (shown, never acted on).
    public var notes: [String]
    /// Routes that wait for an external link (``DesiredState/externalLinks``) to exist and be up, one
    /// line per link; nothing to act on, but the kernel is not yet what the topology declares.
    public var waiting: [String]

    public init(
        actions: [PlanAction] = [],
        conflicts: [HAVPNError] = [],
        notes: [String] = [],
        waiting: [String] = []
    ) {
        self.actions = actions
        self.conflicts = conflicts
        self.notes = notes
        self.waiting = waiting
    }

    public var isEmpty: Bool { actions.isEmpty }
}
