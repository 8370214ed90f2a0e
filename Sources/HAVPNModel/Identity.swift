/// Which pod this process configures: its role and its index within that role.
///
/// - apiserver: index 1...0xffff, the last 16 bits of its bond address (`::a:<index>`).
///   kube-apiserver pods are a Deployment without ordinals, so the index comes from `--index`,
///   `--bond-address`, or is derived from the pod IP (no lease, no seed API access).
/// - shoot: the vpn-shoot StatefulSet ordinal, 0..<shootClients.
/// - server: the vpn-seed-server ordinal, 0..<servers.
public struct Identity: Hashable, Sendable {
    public var role: Role
    public var index: Int

    public init(role: Role, index: Int) {
        self.role = role
        self.index = index
    }
}

// MARK: - Resolution from the invocation

extension Identity {
    /// The identity of this process from its flags and environment (all raw strings, as given).
    ///
    /// Precedence: an explicit `index` (`--index`) wins over everything else; then, for the apiserver
    /// role, `bondAddress` (`--bond-address`), then the pod IP; for the shoot and server roles, the
    /// ordinal suffix of the StatefulSet pod name (`vpn-shoot-1` → 1, `vpn-seed-server-0` → 0).
    ///
    /// **Apiserver index from the pod IP** (no lease, no seed API access, unlike vpn2's IP broker):
    /// - IPv4: the low 16 bits of the address when they are in 1...0xfffe. Pod IPs that differ only
    ///   inside one /16 (every common seed pod CIDR per node, and whole clusters up to a /16) never
    ///   collide, and the index is readable: `10.1.3.5` → `::a:305`.
    /// - IPv6, or IPv4 whose low 16 bits are 0 or 0xffff (possible with Calico /26 blocks): FNV-1a
    ///   (32 bit) over the address bytes, reduced into 1...0xfffe. IPv6 pod IPs often share their low
    ///   bits across nodes (`…:1::5` and `…:2::5`), so the whole address is hashed; for 3 replicas the
    ///   chance of a collision is about 5 in 100 000.
    /// - 0xffff is never derived, so an operator can always pin one pod there with `--index` without
    ///   colliding with a derived one.
    /// Collisions are possible only in these rare cases; `--index`/`--bond-address` exist for them.
    public static func resolve(
        role: Role,
        index: Int?,
        bondAddress: String?,
        podName: String?,
        podIP: String?,
        topology: Topology
    ) throws(HAVPNError) -> Identity {
        let plan = AddressPlan(topology: topology)
        if let index {
            try validate(role: role, index: index, topology: topology, source: "--index")
            return Identity(role: role, index: index)
        }
        switch role {
        case .apiserver:
            if let bondAddress {
                guard case .v6(let a)? = IPAddress(bondAddress) else {
                    throw HAVPNError(.invalidIdentity, "--bond-address '\(bondAddress)' is not an IPv6 address")
                }
                guard plan.isInBondNetwork(a) else {
                    throw HAVPNError(
                        .invalidIdentity,
                        "--bond-address \(a) is outside the bond network \(plan.bondNetwork)"
                    )
                }
                guard let x = plan.apiserverIndex(ofBondAddress: a) else {
                    throw HAVPNError(
                        .invalidIdentity,
                        "--bond-address \(a) is not an apiserver bond address (expected \(plan.apiserverBondAddress(1)) … \(plan.apiserverBondAddress(0xffff)))"
                    )
                }
                return Identity(role: .apiserver, index: x)
            }
            if let podIP {
                guard let ip = IPAddress(podIP) else {
                    throw HAVPNError(.invalidIdentity, "POD_IP '\(podIP)' is not an IP address")
                }
                return Identity(role: .apiserver, index: apiserverIndex(derivedFrom: ip))
            }
            throw HAVPNError(
                .invalidIdentity,
                "the apiserver role needs --index, --bond-address or POD_IP to choose its bond address"
            )
        case .shoot, .server:
            if bondAddress != nil {
                throw HAVPNError(.invalidIdentity, "--bond-address applies to the apiserver role only")
            }
            guard let podName, !podName.isEmpty else {
                throw HAVPNError(
                    .invalidIdentity,
                    "the \(role.rawValue) role needs --index or POD_NAME (a StatefulSet pod name such as \(role == .shoot ? "vpn-shoot-0" : "vpn-seed-server-0"))"
                )
            }
            guard let ordinal = ordinal(ofPodName: podName) else {
                throw HAVPNError(
                    .invalidIdentity,
                    "POD_NAME '\(podName)' does not end in -<ordinal> (expected e.g. \(role == .shoot ? "vpn-shoot-1" : "vpn-seed-server-1"))"
                )
            }
            try validate(role: role, index: ordinal, topology: topology, source: "POD_NAME '\(podName)'")
            return Identity(role: role, index: ordinal)
        }
    }

    /// Checks that `index` is in range for `role` in `topology`.
    public static func validate(role: Role, index: Int, topology: Topology, source: String) throws(HAVPNError) {
        switch role {
        case .apiserver where topology.mode == .single:
            throw HAVPNError(
                .invalidIdentity,
                "single mode has no apiserver role: kube-apiserver reaches the shoot through the server's CONNECT proxy"
            )
        case .apiserver:
            guard AddressPlan.apiserverIndexRange.contains(index) else {
                throw HAVPNError(
                    .invalidIdentity,
                    "\(source): apiserver index \(index) is outside 1...65535"
                )
            }
        case .shoot:
            guard (0..<topology.shootClients).contains(index) else {
                throw HAVPNError(
                    .invalidIdentity,
                    "\(source): shoot client index \(index) is outside 0..<\(topology.shootClients) (shootClients: \(topology.shootClients))"
                )
            }
        case .server:
            guard (0..<topology.servers).contains(index) else {
                throw HAVPNError(
                    .invalidIdentity,
                    "\(source): server index \(index) is outside 0..<\(topology.servers) (servers: \(topology.servers))"
                )
            }
        }
    }

    /// The numeric suffix after the last `-` of a StatefulSet pod name; nil when there is none.
    public static func ordinal(ofPodName name: String) -> Int? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        let digits = name[name.index(after: dash)...]
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        return Int(digits)
    }

    /// The pod's IPs as Kubernetes gives them (`status.podIPs`: the primary first, at most one per
    /// family). Each text may hold a comma-separated list (the downward API's form). Announced to
    /// the shoot clients, which route every one of them back (a dual-stack apiserver needs both).
    public static func podIPs(_ texts: [String]) throws(HAVPNError) -> [IPAddress] {
        var ips: [IPAddress] = []
        for item in texts.flatMap({ $0.split(separator: ",") }) {
            var trimmed = item
            while trimmed.first == " " { trimmed.removeFirst() }
            while trimmed.last == " " { trimmed.removeLast() }
            let text = String(trimmed)
            guard let ip = IPAddress(text) else {
                throw HAVPNError(.invalidIdentity, "pod IP '\(text)' is not an IP address")
            }
            guard !ips.contains(where: { $0.family == ip.family }) else {
                let all = (ips + [ip]).map(\.description).joined(separator: ",")
                throw HAVPNError(
                    .invalidIdentity,
                    "pod IPs \(all) hold two \(ip.family.rawValue) addresses (a pod has at most one per family)"
                )
            }
            ips.append(ip)
        }
        return ips
    }

    /// The deterministic apiserver index for a pod IP, in 1...0xfffe (see ``resolve(role:index:bondAddress:podName:podIP:topology:)``).
    public static func apiserverIndex(derivedFrom podIP: IPAddress) -> Int {
        if case .v4(let a) = podIP {
            let low = Int(a.value & 0xffff)
            if (1...0xfffe).contains(low) { return low }
        }
        var hash: UInt32 = 0x811c_9dc5  // FNV-1a 32-bit offset basis
        for byte in podIP.bytes {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193  // FNV prime
        }
        return 1 + Int(hash % 0xfffe)
    }
}
