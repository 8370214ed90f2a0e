import HAVPNModel

/// havpn's route protocol number (`ip route ... proto 201`), also used as the address protocol
/// (IFA_PROTO) of the addresses it configures. Routes carrying it are havpn's; nothing else is.
public let havpnRouteProtocol: UInt8 = 201

/// The IFLA_IFALIAS havpn writes on every link it creates, so stale links can be pruned later.
public let havpnLinkAlias = "havpn"

/// Bond options havpn manages. Mode and fail_over_mac cannot change while slaves are attached,
/// so a change of either recreates the bond.
public struct BondSpec: Hashable, Sendable {
    public var mode: Topology.BondMode
    public var miimon: Int
    public var failOverMAC: Topology.FailOverMAC
    public var useCarrier: Bool
    /// Name of the primary slave, or nil.
    public var primary: String?
    public var numPeerNotif: Int

    public init(
        mode: Topology.BondMode,
        miimon: Int,
        failOverMAC: Topology.FailOverMAC,
        useCarrier: Bool,
        primary: String?,
        numPeerNotif: Int
    ) {
        self.mode = mode
        self.miimon = miimon
        self.failOverMAC = failOverMAC
        self.useCarrier = useCarrier
        self.primary = primary
        self.numPeerNotif = numPeerNotif
    }
}

/// An ip6tnl device in `mode any` (IPv4 and IPv6 over IPv6) with `encaplimit none`.
public struct TunnelSpec: Hashable, Sendable {
    public var local: IPv6Address
    public var remote: IPv6Address

    public init(local: IPv6Address, remote: IPv6Address) {
        self.local = local
        self.remote = remote
    }
}

public enum LinkKind: Hashable, Sendable {
    /// A persistent tap (created through /dev/net/tun with TUNSETPERSIST) that openvpn attaches to later.
    case tap
    case bond(BondSpec)
    case ip6tnl(TunnelSpec)
    /// Any other kind seen in the kernel (veth, dummy, ...); never desired.
    case other(String)

    public var kindName: String {
        switch self {
        case .tap: "tap"
        case .bond: "bond"
        case .ip6tnl: "ip6tnl"
        case .other(let k): k
        }
    }
}

public struct LinkSpec: Hashable, Sendable {
    public var name: String
    public var kind: LinkKind
    /// Name of the bond this link is enslaved to.
    public var master: String?
    /// nil = not managed (kernel default).
    public var mtu: Int?
    /// Administratively up.
    public var up: Bool

    public init(name: String, kind: LinkKind, master: String? = nil, mtu: Int? = nil, up: Bool = true) {
        self.name = name
        self.kind = kind
        self.master = master
        self.mtu = mtu
        self.up = up
    }
}

public struct AddressSpec: Hashable, Sendable, Comparable {
    public var device: String
    public var address: IPAddress
    public var prefixLength: Int
    /// IFA_F_NODAD: the bond address must be usable at once (vpn2 #180).
    public var nodad: Bool

    public init(device: String, address: IPAddress, prefixLength: Int, nodad: Bool = true) {
        self.device = device
        self.address = address
        self.prefixLength = prefixLength
        self.nodad = nodad
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.device, a.address, a.prefixLength) < (b.device, b.address, b.prefixLength)
    }
}

/// A unicast route in the main table, through a device, carrying havpn's protocol.
public struct RouteSpec: Hashable, Sendable, Comparable {
    public var destination: IPNetwork
    public var device: String
    public var metric: Int

    public init(destination: IPNetwork, device: String, metric: Int = 0) {
        self.destination = destination
        self.device = device
        self.metric = metric
    }

    /// The kernel's identity of a route in one table: destination and metric.
    public var key: RouteKey { RouteKey(destination: destination, metric: metric) }

    public static func < (a: Self, b: Self) -> Bool {
        (a.destination, a.metric, a.device) < (b.destination, b.metric, b.device)
    }
}

public struct RouteKey: Hashable, Sendable, Comparable {
    public var destination: IPNetwork
    public var metric: Int

    /// The address, and prefix length and metric in one word (see ``IPAddress/hash(into:)``).
    public func hash(into hasher: inout Hasher) {
        destination.address.hash(into: &hasher)
        hasher.combine(destination.prefixLength << 48 ^ metric)
    }
    public static func < (a: Self, b: Self) -> Bool { (a.destination, a.metric) < (b.destination, b.metric) }
}

/// A network-namespace sysctl, e.g. `net.ipv4.conf.all.rp_filter = 0`.
public struct SysctlSpec: Hashable, Sendable, Comparable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }

    public static func < (a: Self, b: Self) -> Bool { a.key < b.key }
}

/// What one pod's network namespace should look like, as far as havpn owns it.
public struct DesiredState: Hashable, Sendable {
    public var links: [LinkSpec]
    public var addresses: [AddressSpec]
    public var routes: [RouteSpec]
    public var sysctls: [SysctlSpec]
    /// The packet filter and NAT; nil when this run does not manage them (then they are neither
    /// planned nor pruned), an empty ruleset prunes havpn's chains.
    public var ruleset: Ruleset?
    /// Links havpn routes through but does not own (single mode's `tun0`, which openvpn creates and
    /// deletes with its process): never created, changed, adopted or deleted. A route through one that is
    /// absent or down waits (``Plan/waiting``) instead of being a conflict: that is the normal state
    /// while openvpn connects, and the link's appearance is a kernel event that triggers a reconcile.
    public var externalLinks: [String]

    public init(
        links: [LinkSpec] = [],
        addresses: [AddressSpec] = [],
        routes: [RouteSpec] = [],
        sysctls: [SysctlSpec] = [],
        ruleset: Ruleset? = nil,
        externalLinks: [String] = []
    ) {
        self.links = links
        self.addresses = addresses
        self.routes = routes
        self.sysctls = sysctls
        self.ruleset = ruleset
        self.externalLinks = externalLinks
    }
}

/// A link as the kernel reports it.
public struct ObservedLink: Hashable, Sendable {
    public var spec: LinkSpec
    /// Carries havpn's alias, i.e. havpn created it.
    public var owned: Bool

    public init(spec: LinkSpec, owned: Bool) {
        self.spec = spec
        self.owned = owned
    }
}

public struct ObservedAddress: Hashable, Sendable {
    public var spec: AddressSpec
    /// Carries havpn's address protocol.
    public var owned: Bool

    public init(spec: AddressSpec, owned: Bool) {
        self.spec = spec
        self.owned = owned
    }
}

public struct ObservedRoute: Hashable, Sendable {
    public var spec: RouteSpec
    /// The route's protocol number; havpn's own is ``havpnRouteProtocol``.
    public var routeProtocol: UInt8

    public init(spec: RouteSpec, routeProtocol: UInt8) {
        self.spec = spec
        self.routeProtocol = routeProtocol
    }

    public var owned: Bool { routeProtocol == havpnRouteProtocol }
}

/// The live state of one network namespace: every link, the addresses on links havpn declares,
/// the main table's unicast routes, and the values of the sysctls havpn declares.
public struct ObservedState: Hashable, Sendable {
    public var links: [ObservedLink]
    public var addresses: [ObservedAddress]
    public var routes: [ObservedRoute]
    /// key → current value; a missing key means the sysctl does not exist (module not loaded).
    public var sysctls: [String: String]
    /// havpn's chains as the kernel holds them (empty when none exist).
    public var ruleset: ObservedRuleset

    public init(
        links: [ObservedLink] = [],
        addresses: [ObservedAddress] = [],
        routes: [ObservedRoute] = [],
        sysctls: [String: String] = [:],
        ruleset: ObservedRuleset = ObservedRuleset()
    ) {
        self.links = links
        self.addresses = addresses
        self.routes = routes
        self.sysctls = sysctls
        self.ruleset = ruleset
    }
}
