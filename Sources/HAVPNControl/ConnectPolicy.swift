import HAVPNModel

/// Where a permitted CONNECT goes: an IP literal and a port.
public struct ConnectTarget: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: Int

    public init(address: IPAddress, port: Int) {
        self.address = address
        self.port = port
    }

    /// `10.0.0.1:443` or `[fd00::1]:443`.
    public var description: String {
        address.family == .ipv6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// What the proxy does with a request head.
public enum ConnectDecision: Hashable, Sendable {
    case relay(ConnectTarget)
    case refuse(ConnectRefusal)
}

/// How far the bytes received so far go towards a complete request head.
public enum ConnectHeadScan: Hashable, Sendable {
    /// No blank line yet, and still within the limit.
    case incomplete
    /// The head is the first `length` bytes, blank line included; what follows belongs to the tunnel.
    case complete(length: Int)
    case tooLarge
}

/// What the bytes received so far make of a request head: ``ConnectPolicy/scan(_:)`` and
/// ``ConnectPolicy/judge(head:)`` in one step, as both relays (swift-nio and splice) ask it.
public enum ConnectHeadVerdict: Hashable, Sendable {
    /// No complete head yet, and still within the limit: read more.
    case incomplete
    case refuse(ConnectRefusal)
    /// Relay to `target`. The head is the first `headLength` bytes; what follows is the client's first
    /// tunnel bytes.
    case relay(ConnectTarget, headLength: Int)
}

/// The CONNECT proxy's policy: which requests become tunnels. A pure machine, values in and decisions
/// out, so every rule is tested without a socket; the I/O layer (HAVPNService's `ConnectProxyService`)
/// reads the head, asks ``examine(_:)``, and connects only on ``ConnectHeadVerdict/relay(_:headLength:)``.
///
/// The rule is an allow-list: a tunnel goes only to an IP literal inside the shoot networks, never to
/// one of the proxy's own addresses, never to the unspecified address or to multicast. Everything else is
/// refused with the most specific reason (seed, loopback, link-local, ...), so the refusal counters say
/// what was attempted.
public struct ConnectPolicy: Hashable, Sendable {
    /// Where tunnels may go: the shoot's node, service and pod networks.
    public var shootNetworks: [IPNetwork]
    /// `networks.seedPods`, only to name the refusal.
    public var seedNetworks: [IPNetwork]
    /// The proxy's own addresses (listen address, pod IP): never a target, even inside the shoot networks.
    public var ownAddresses: Set<IPAddress>
    /// Longest request head accepted, blank line included. kube-apiserver's CONNECT heads are about
    /// 100 bytes; 8 KiB is the usual server limit for a header section.
    public var headLimit: Int

    public static let defaultHeadLimit = 8192

    public init(
        shootNetworks: [IPNetwork],
        seedNetworks: [IPNetwork] = [],
        ownAddresses: Set<IPAddress> = [],
        headLimit: Int = Self.defaultHeadLimit
    ) {
        self.shootNetworks = shootNetworks
        self.seedNetworks = seedNetworks
        self.ownAddresses = Set(ownAddresses.map(Self.unmapped))
        self.headLimit = headLimit
    }

    /// The policy of a topology's proxy. `ownAddresses` are the pod's; a specific listen address is added.
    ///
    /// The shoot networks are the real ones (kube-apiserver asks for real addresses; the firewall maps the
    /// proxy's connections to them onto their stand-ins) followed by their NETMAP blocks (``Netmap``), so
    /// an address already translated, e.g. learned from the shoot side, is relayed too.
    public init(topology: Topology, ownAddresses: [IPAddress] = []) {
        var own = Set(ownAddresses)
        if let proxy = topology.proxy, let listen = IPAddress(proxy.address), !Self.isUnspecified(listen) {
            own.insert(listen)
        }
        self.init(
            shootNetworks: topology.networks.shoot.all + topology.netmap.shoot.map(\.mapped),
            seedNetworks: topology.networks.seedPods,
            ownAddresses: own
        )
    }

    // MARK: - Head

    /// Finds the end of the head (CRLF CRLF, or LF LF as RFC 9112 §2.2 lets a recipient accept).
    public func scan(_ bytes: some Collection<UInt8>) -> ConnectHeadScan {
        var previous: UInt8 = 0
        var beforePrevious: UInt8 = 0
        var length = 0
        for byte in bytes {
            length += 1
            if length > headLimit { return .tooLarge }
            if byte == 0x0A && (previous == 0x0A || (previous == 0x0D && beforePrevious == 0x0A)) {
                return .complete(length: length)
            }
            beforePrevious = previous
            previous = byte
        }
        return .incomplete
    }

    /// Scans the bytes received so far and, once the head is complete, judges it.
    public func examine(_ received: some Collection<UInt8>) -> ConnectHeadVerdict {
        switch scan(received) {
        case .incomplete: return .incomplete
        case .tooLarge: return .refuse(.headTooLarge)
        case .complete(let length):
            switch judge(head: received.prefix(length)) {
            case .refuse(let reason): return .refuse(reason)
            case .relay(let target): return .relay(target, headLength: length)
            }
        }
    }

    /// Judges one complete head (as delimited by ``scan(_:)``).
    public func judge(head bytes: some Collection<UInt8>) -> ConnectDecision {
        guard bytes.count <= headLimit else { return .refuse(.headTooLarge) }
        switch ConnectRequestLine.parse(Array(bytes)) {
        case .failure(let reason): return .refuse(reason)
        case .success(let authority): return judge(authority: authority)
        }
    }

    /// Judges the request target of a CONNECT (`host:port`, `[v6]:port`).
    public func judge(authority: String) -> ConnectDecision {
        switch ConnectRequestLine.parseAuthority(authority) {
        case .failure(let reason): return .refuse(reason)
        case .success(let target): return judge(target)
        }
    }

    /// Judges a destination. IPv4-mapped IPv6 addresses are judged as the IPv4 address they reach.
    public func judge(_ target: ConnectTarget) -> ConnectDecision {
        guard (1...65535).contains(target.port) else { return .refuse(.badPort) }
        let address = Self.unmapped(target.address)
        if Self.isUnspecified(address) { return .refuse(.unspecified) }
        if Self.isMulticastOrBroadcast(address) { return .refuse(.notUnicast) }
        if ownAddresses.contains(address) { return .refuse(.proxyAddress) }
        if shootNetworks.contains(where: { $0.contains(address) }) {
            return .relay(ConnectTarget(address: address, port: target.port))
        }
        // The declared seed networks name the refusal before the built-in address classes do.
        if seedNetworks.contains(where: { $0.contains(address) }) { return .refuse(.seedAddress) }
        if Self.loopback.contains(where: { $0.contains(address) }) { return .refuse(.loopback) }
        if Self.linkLocal.contains(where: { $0.contains(address) }) { return .refuse(.linkLocal) }
        return .refuse(.outsideShoot)
    }

    // MARK: - Address classes

    static let loopback = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!]
    static let linkLocal = [IPNetwork("169.254.0.0/16")!, IPNetwork("fe80::/10")!]
    static let unspecified = [IPNetwork("0.0.0.0/8")!, IPNetwork("::/128")!]
    static let notUnicast = [IPNetwork("224.0.0.0/4")!, IPNetwork("255.255.255.255/32")!, IPNetwork("ff00::/8")!]
    static let v4Mapped = IPNetwork("::ffff:0.0.0.0/96")!

    static func isUnspecified(_ address: IPAddress) -> Bool { unspecified.contains { $0.contains(address) } }
    static func isMulticastOrBroadcast(_ address: IPAddress) -> Bool { notUnicast.contains { $0.contains(address) } }

    /// `::ffff:a.b.c.d` reaches a.b.c.d on a dual-stack socket, so it is judged (and dialled) as that.
    public static func unmapped(_ address: IPAddress) -> IPAddress {
        guard case .v6(let v6) = address, v4Mapped.contains(address) else { return address }
        return .v4(IPv4Address(UInt32(truncatingIfNeeded: v6.low)))
    }
}
