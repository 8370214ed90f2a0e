/// Overlapping seed and shoot networks, resolved as vpn2 resolves them (gardener g#11582, g#12204): every
/// IPv4 network that crosses the VPN gets a stand-in in the reserved class-E space, and both ends translate
/// with stateless 1:1 prefix NAT (iptables NETMAP, nftables `dnat/snat ip prefix to`).
///
/// - seed pods → 241.0.0.0/8, keeping the low 24 bits (vpn2 `NetmapIP(podIP, "241.0.0.0/8")`), so a seed
///   pod IP 10.1.2.3 is 241.1.2.3 on the shoot side;
/// - shoot nodes → 242.0.0.0/8, services → 243.0.0.0/8, pods → 244.0.0.0/8, each list packed from the
///   start of its /8, largest network first (vpn2 `ShootNetworksForNetmap`).
///
/// In HA mode it is active only when an IPv4 seed pod network overlaps an IPv4 shoot network (vpn2's HA
/// rule); otherwise nothing is mapped and the routes and rules are the plain ones. Single mode maps every
/// IPv4 network always (`always: true`), as vpn2's non-HA `doNetmap = true`: the stand-ins are what
/// crosses tun0, so a havpn server works with a vpn2 vpn-shoot and the other way round. IPv6 networks
/// are never mapped (as in vpn2), so an IPv6 overlap stays an error.
public struct Netmap: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case seedPods
        case shootNodes
        case shootServices
        case shootPods

        /// vpn2's constants `SeedPodNetworkMapped`, `Shoot{Node,Service,Pod}NetworkMapped`.
        public var range: IPNetwork {
            switch self {
            case .seedPods: IPNetwork("241.0.0.0/8")!
            case .shootNodes: IPNetwork("242.0.0.0/8")!
            case .shootServices: IPNetwork("243.0.0.0/8")!
            case .shootPods: IPNetwork("244.0.0.0/8")!
            }
        }

        var label: String {
            switch self {
            case .seedPods: "seed pods"
            case .shootNodes: "shoot nodes"
            case .shootServices: "shoot services"
            case .shootPods: "shoot pods"
            }
        }
    }

    public struct Mapping: Hashable, Sendable {
        public var kind: Kind
        public var real: IPNetwork
        public var mapped: IPNetwork
        /// Where the real network is declared, e.g. `networks.shoot.pods[0]`.
        public var keyPath: String
    }

    /// Seed pod networks first, then shoot nodes, services and pods, each in declaration order.
    public var mappings: [Mapping] = []

    public init() {}

    public var isActive: Bool { !mappings.isEmpty }
    public var seedPods: [Mapping] { mappings.filter { $0.kind == .seedPods } }
    public var shoot: [Mapping] { mappings.filter { $0.kind != .seedPods } }

    /// vpn2's owner match (`EnvoyVPNGroupId`): on the kube-apiserver pod (HA) and the vpn-seed-server pod
    /// (single mode) only sockets of this group (the proxy that dials the shoot for kube-apiserver's
    /// egress selector; in single mode `havpn run --role server`, whose proxy runs in-process) have the
    /// real shoot addresses translated; every other process keeps reaching the seed pods those addresses
    /// also name.
    public static let proxyGroup = 31415

    /// What the shoot sees and routes for a seed pod IP (the announced kube-apiserver pod IP).
    public func mapped(_ ip: IPAddress) -> IPAddress {
        guard let m = seedPods.first(where: { $0.real.contains(ip) }) else { return ip }
        return Self.translate(ip, into: m.mapped)
    }

    /// What the seed routes for a shoot network: its stand-in when mapped.
    public func mapped(_ network: IPNetwork) -> IPNetwork {
        shoot.first { $0.real == network }?.mapped ?? network
    }

    /// Single mode's routes and `iroute`s: the whole range of a mapped shoot network's kind, as vpn2's
    /// non-HA server (`values.go` lists `ShootNodeNetworkMapped` etc. for the CCD and the tun0 routes),
    /// so whatever block a vpn2 peer packs a network into is covered; the network itself when unmapped.
    public func range(ofShoot network: IPNetwork) -> IPNetwork {
        shoot.first { $0.real == network }?.kind.range ?? network
    }

    /// The seed pod counterpart: vpn2's non-HA vpn-shoot routes all of 241.0.0.0/8 through tun0
    /// (`app.go` `SeedPodNetwork = SeedPodNetworkMapped`).
    public func range(ofSeedPods network: IPNetwork) -> IPNetwork {
        seedPods.first { $0.real == network }?.kind.range ?? network
    }

    /// NETMAP's arithmetic: the host bits of `ip` under `range`'s prefix, on `range`'s network bits.
    static func translate(_ ip: IPAddress, into range: IPNetwork) -> IPAddress {
        guard case .v4(let a) = ip, case .v4(let base) = range.address else { return ip }
        let host: UInt32 =
            range.prefixLength == 0 ? ~0 : (range.prefixLength == 32 ? 0 : ~(~0 << (32 - range.prefixLength)))
        return .v4(IPv4Address((a.value & host) | base.value))
    }

    /// The plan of a topology whose networks are otherwise valid (no overlap within the seed or within the
    /// shoot networks); errors carry the key path of the network to edit and are one line each. `always`
    /// maps the IPv4 networks even when nothing overlaps (single mode, vpn2's non-HA tunnel).
    public init(topology: Topology, always: Bool = false) throws(HAVPNError) {
        let networks = topology.networks
        let seed = networks.seedPods.enumerated().map { ("networks.seedPods[\($0.offset)]", $0.element) }
        let shoot: [(Kind, String, [IPNetwork])] = [
            (.shootNodes, "nodes", networks.shoot.nodes),
            (.shootServices, "services", networks.shoot.services),
            (.shootPods, "pods", networks.shoot.pods),
        ]
        let shootEntries = shoot.flatMap { kind, name, list in
            list.enumerated().map { (kind, "networks.shoot.\(name)[\($0.offset)]", $0.element) }
        }
        let overlapping = seed.contains { s in
            s.1.family == .ipv4 && shootEntries.contains { $0.2.family == .ipv4 && $0.2.overlaps(s.1) }
        }
        guard overlapping || always else { return }
        let why = always ? "single mode always maps IPv4, as vpn2" : "used because seed and shoot networks overlap"
        // A real network inside a stand-in range would make a translated address ambiguous.
        for (path, network) in seed + shootEntries.map({ ($0.1, $0.2) }) {
            if let kind = Kind.allCases.first(where: { $0.range.overlaps(network) }) {
                throw HAVPNError(
                    .overlap,
                    "\(network) overlaps \(kind.range), the NETMAP range of \(kind.label) (\(why))",
                    keyPath: path
                )
            }
        }
        var out: [Mapping] = []
        for (path, network) in seed where network.family == .ipv4 {
            guard network.prefixLength >= 8 else {
                throw Self.tooLarge(network, .seedPods, path, why)
            }
            let mapped = IPNetwork(
                address: Self.translate(network.address, into: Kind.seedPods.range),
                prefixLength: network.prefixLength
            )
            if let other = out.first(where: { $0.mapped.overlaps(mapped) }) {
                throw HAVPNError(
                    .overlap,
                    "\(network) maps onto \(mapped), as \(other.keyPath) \(other.real) does "
                        + "(seed pods keep their low 24 bits in 241.0.0.0/8)",
                    keyPath: path
                )
            }
            out.append(Mapping(kind: .seedPods, real: network, mapped: mapped, keyPath: path))
        }
        for (kind, _, _) in shoot {
            let entries = shootEntries.filter { $0.0 == kind && $0.2.family == .ipv4 }
            // Largest first, declaration order among equals: each block then starts aligned (vpn2 packs
            // the same way, so both ends of a mixed vpn2/havpn fabric agree).
            let order = entries.enumerated().sorted {
                ($0.element.2.prefixLength, $0.offset) < ($1.element.2.prefixLength, $1.offset)
            }
            var next: UInt64 = 0
            var placed: [Int: Mapping] = [:]
            for (offset, (_, path, network)) in order {
                guard network.prefixLength >= 8 else { throw Self.tooLarge(network, kind, path, why) }
                let size = UInt64(1) << (32 - network.prefixLength)
                guard next + size <= 1 << 24, case .v4(let base) = kind.range.address else {
                    throw HAVPNError(
                        .outOfRange,
                        "\(network) does not fit into \(kind.range) with the larger IPv4 networks of "
                            + "\(kind.label) (NETMAP gives each its own block)",
                        keyPath: path
                    )
                }
                let mapped = IPNetwork(
                    address: .v4(IPv4Address(base.value | UInt32(next))),
                    prefixLength: network.prefixLength
                )
                placed[offset] = Mapping(kind: kind, real: network, mapped: mapped, keyPath: path)
                next += size
            }
            out += placed.sorted { $0.key < $1.key }.map(\.value)
        }
        mappings = out
    }

    private static func tooLarge(_ network: IPNetwork, _ kind: Kind, _ path: String, _ why: String) -> HAVPNError {
        HAVPNError(
            .outOfRange,
            "\(network) is larger than \(kind.range), the NETMAP range of \(kind.label) (\(why))",
            keyPath: path
        )
    }
}

extension Topology {
    /// The NETMAP plan of a validated topology: in HA mode empty when nothing overlaps, in single mode
    /// every IPv4 network (vpn2 maps non-HA always).
    public var netmap: Netmap { (try? Netmap(topology: self, always: mode == .single)) ?? Netmap() }
}
