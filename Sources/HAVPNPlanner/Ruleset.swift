import HAVPNModel

/// The chains havpn owns, in the order they are planned and rendered. Each is one base chain of
/// the `inet havpn` table (nftables) or one `HAVPN-…` chain jumped to from a built-in chain
/// (iptables), for both IPv4 and IPv6.
public enum RulesetChain: String, Hashable, Sendable, CaseIterable, Comparable {
    /// filter INPUT: what reaches the pod's own sockets.
    case input
    /// filter FORWARD: what the pod routes.
    case forward
    /// mangle FORWARD: TCP MSS clamping of forwarded SYNs.
    case mss
    /// nat POSTROUTING: masquerade out of the uplink.
    case masquerade
    /// nat PREROUTING: NETMAP of destinations arriving through the tunnels (stand-in → real).
    case netmapPrerouting = "netmap-prerouting"
    /// nat OUTPUT: NETMAP of destinations the proxy dials (kube-apiserver pod: real shoot → stand-in).
    case netmapOutput = "netmap-output"
    /// nat POSTROUTING: NETMAP of sources leaving through the tunnels (real → stand-in).
    case netmapPostrouting = "netmap-postrouting"

    /// Whether a `.netmap` verdict here rewrites the destination (else the source).
    public var translatesDestination: Bool { self != .netmapPostrouting }

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An interface match; `isPrefix` matches every name that starts with `name` (iptables `bond0+`,
/// nftables `"bond0*"`).
public struct InterfaceMatch: Hashable, Sendable {
    public enum Direction: String, Hashable, Sendable { case incoming, outgoing }
    public var direction: Direction
    public var name: String
    public var isPrefix: Bool

    public init(_ direction: Direction, _ name: String, isPrefix: Bool = false) {
        self.direction = direction
        self.name = name
        self.isPrefix = isPrefix
    }
}

/// What a rule matches besides the interface.
public enum PacketMatch: String, Hashable, Sendable {
    case any
    /// conntrack state ESTABLISHED or RELATED: replies to the pod's own connections.
    case establishedOrRelated
    /// ICMPv6 (neighbour discovery, path MTU, havpn's probes).
    case icmpv6
    /// IPv6 carrying IPv4 (next header 4) or IPv6 (41): the ip6tnl transport (`mode any`) on the
    /// bond. The inner packet meets the filter again on the tunnel device, so accepting the outer
    /// one is safe, and a tunnel keeps working before the pod itself has sent through it.
    case tunnelTransportIPv4
    case tunnelTransportIPv6
    /// TCP with SYN set and RST clear.
    case tcpSyn
}

public enum RuleVerdict: String, Hashable, Sendable {
    case accept
    /// Dropped and counted (both backends count every rule; nftables needs the `counter`).
    case drop
    case masquerade
    case clampMSSToPMTU
    /// Stateless 1:1 prefix NAT to the rule's `netmapTo` (iptables NETMAP, nft `dnat/snat ip prefix to`);
    /// the chain decides whether the destination or the source is rewritten.
    case netmap
}

/// One rule in havpn's backend-neutral form.
public struct FirewallRule: Hashable, Sendable {
    public var chain: RulesetChain
    /// Short readable name, unique within the chain, e.g. `bond0-established`.
    public var name: String
    public var interface: InterfaceMatch?
    public var match: PacketMatch
    public var verdict: RuleVerdict
    public var source: IPNetwork?
    public var destination: IPNetwork?
    /// Only packets of sockets owned by this group (iptables `-m owner --gid-owner`, nft `meta skgid`).
    public var socketGroup: Int?
    /// The target range of a `.netmap` verdict.
    public var netmapTo: IPNetwork?

    public init(
        _ chain: RulesetChain,
        _ name: String,
        interface: InterfaceMatch?,
        match: PacketMatch = .any,
        source: IPNetwork? = nil,
        destination: IPNetwork? = nil,
        socketGroup: Int? = nil,
        verdict: RuleVerdict,
        netmapTo: IPNetwork? = nil
    ) {
        self.chain = chain
        self.name = name
        self.interface = interface
        self.match = match
        self.source = source
        self.destination = destination
        self.socketGroup = socketGroup
        self.verdict = verdict
        self.netmapTo = netmapTo
    }

    /// The address family the rule's networks belong to; nil for rules without addresses.
    public var addressFamily: IPFamily? { (source ?? destination ?? netmapTo)?.family }

    /// The rule's identity in the kernel, written as its comment: the name plus a hash of the
    /// content, so a rule edited by hand or by a newer havpn differs and is replaced. Observing
    /// comments only (as Calico does) keeps the comparison independent of how each backend
    /// prints a rule back.
    public var id: String { "havpn:\(name):\(Self.hash(canonicalText))" }

    /// Every field, in a fixed form. Fields added later are appended only when set, so the ids of rules
    /// that do not use them stay what earlier versions wrote (no needless replacement on upgrade).
    public var canonicalText: String {
        let iface = interface.map { "\($0.direction.rawValue)=\($0.name)\($0.isPrefix ? "*" : "")" } ?? "-"
        var text = "\(chain.rawValue) \(iface) \(match.rawValue) \(verdict.rawValue)"
        if let source { text += " src=\(source)" }
        if let destination { text += " dst=\(destination)" }
        if let socketGroup { text += " gid=\(socketGroup)" }
        if let netmapTo { text += " to=\(netmapTo)" }
        return text
    }

    /// FNV-1a (32 bit) as 8 hex digits: stable across runs and platforms, unlike `hashValue`.
    static func hash(_ text: String) -> String {
        var h: UInt32 = 0x811c_9dc5
        for byte in text.utf8 {
            h ^= UInt32(byte)
            h = h &* 0x0100_0193
        }
        let digits = String(h, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// The packet filter and NAT one pod should have.
public struct Ruleset: Hashable, Sendable {
    /// In chain order, then in evaluation order within a chain.
    public var rules: [FirewallRule]
    /// Pieces the topology turned off, for the plan to say so (e.g. "input filter off (filter.input: false)").
    public var notes: [String]

    public init(rules: [FirewallRule] = [], notes: [String] = []) {
        self.rules = rules
        self.notes = notes
    }

    public func rules(in chain: RulesetChain) -> [FirewallRule] { rules.filter { $0.chain == chain } }

    /// Rule ids per non-empty chain: the form observation reports and the planner compares.
    public var fingerprint: [RulesetChain: [String]] {
        var out: [RulesetChain: [String]] = [:]
        for rule in rules { out[rule.chain, default: []].append(rule.id) }
        return out
    }
}

/// The owned chains as the kernel holds them: rule ids (comments) in order, per chain. A chain
/// that is missing, or (iptables) not jumped to from its built-in chain, is absent.
public struct ObservedRuleset: Hashable, Sendable {
    public var chains: [RulesetChain: [String]]

    public init(chains: [RulesetChain: [String]] = [:]) {
        self.chains = chains.filter { !$0.value.isEmpty }
    }
}
