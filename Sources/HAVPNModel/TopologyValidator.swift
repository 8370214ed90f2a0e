/// Rules that relate values of a decoded topology to each other: overlapping or duplicate networks,
/// address families, the bond's primary, timing relations, unique apiserver indices and pod IPs.
///
/// Each error points at the later of the values involved (in file order) and names the earlier one, so
/// the user edits the value they most likely just added. A value left at its default has no position;
/// the error then points at the value that made the default wrong.
struct TopologyValidator {
    let topology: Topology
    let locations: SourceLocations

    func validate() throws(HAVPNError) {
        // First: in single mode an HA-only key would otherwise fail a later check with a misleading message.
        try validateMode()  // Topology+Mode.swift
        try validatePrimary()
        try validateFamilies()
        try validateNetworks()
        try validateApiservers()
        try validateTimings()
        try validateProxy()  // Topology+Proxy.swift
    }

    private func error(_ code: HAVPNError.Code, _ path: String, near fallback: String? = nil, _ message: String)
        -> HAVPNError
    {
        let location = locations[path] ?? fallback.flatMap { locations[$0] }
        return HAVPNError(code, message, location: location, keyPath: path)
    }

    /// Sorts key paths by their position in the file; defaults (no position) come first.
    private func inFileOrder<T>(_ items: [(path: String, value: T)]) -> [(path: String, value: T)] {
        func key(_ path: String) -> (Int, Int) {
            guard let location = locations[path] else { return (0, 0) }
            return (location.line, location.column)
        }
        return items.enumerated().sorted { a, b in
            let (ka, kb) = (key(a.element.path), key(b.element.path))
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element)
    }

    private func validatePrimary() throws(HAVPNError) {
        guard let primary = topology.bond.primary, primary >= topology.servers else { return }
        throw error(
            .outOfRange,
            "bond.primary",
            near: "servers",
            "tap\(primary) does not exist: servers is \(topology.servers), so primary must be "
                + "0...\(topology.servers - 1) or null"
        )
    }

    private var shootNetworks: [(path: String, value: IPNetwork)] {
        let shoot = topology.networks.shoot
        func entries(_ name: String, _ networks: [IPNetwork]) -> [(path: String, value: IPNetwork)] {
            networks.enumerated().map { ("networks.shoot.\(name)[\($0.offset)]", $0.element) }
        }
        return entries("nodes", shoot.nodes) + entries("services", shoot.services) + entries("pods", shoot.pods)
    }

    /// Shoot networks must be of a declared family: a shoot's families decide which routes and tunnels carry
    /// its traffic. Seed pod networks are the seed's business and may be of any family.
    private func validateFamilies() throws(HAVPNError) {
        let declared = "[" + topology.ipFamilies.map(\.rawValue).joined(separator: ", ") + "]"
        for (path, network) in inFileOrder(shootNetworks) where !topology.ipFamilies.contains(network.family) {
            let isDefault = locations[path] == nil
            throw error(
                .invalidValue,
                path,
                near: "ipFamilies",
                "\(network)\(isDefault ? " (the default)" : "") is \(network.family.rawValue) "
                    + "but ipFamilies is \(declared)"
            )
        }
    }

    /// Routes to overlapping networks would be ambiguous: the kernel would pick one by prefix length and the
    /// other network would be partly unreachable. The one exception is an IPv4 seed pod network against an
    /// IPv4 shoot network: NETMAP gives the shoot networks stand-ins in 242-244/8 and the seed pods in 241/8
    /// (Netmap.swift), as vpn2 does; whether those stand-ins fit is checked there.
    private func validateNetworks() throws(HAVPNError) {
        let seed = topology.networks.seedPods.enumerated().map {
            (path: "networks.seedPods[\($0.offset)]", value: $0.element)
        }
        let all = inFileOrder(shootNetworks + seed)
        func isSeed(_ path: String) -> Bool { path.hasPrefix("networks.seedPods") }
        for (j, later) in all.enumerated() {
            for earlier in all[..<j] where earlier.value.overlaps(later.value) {
                let crossing = isSeed(earlier.path) != isSeed(later.path)
                // NETMAP resolves it in both modes (single mode maps IPv4 always, on tun0).
                if crossing && later.value.family == .ipv4 { continue }
                if earlier.value == later.value && !crossing {
                    throw error(.duplicate, later.path, "\(later.value) is already listed as \(earlier.path)")
                }
                throw error(
                    .overlap,
                    later.path,
                    "\(later.value) overlaps \(earlier.path) \(earlier.value)"
                        + (crossing ? " (only IPv4 seed and shoot networks can overlap: NETMAP is IPv4 only)" : "")
                )
            }
        }
        do {
            _ = try Netmap(topology: topology, always: topology.mode == .single)
        } catch {
            throw self.error(error.code, error.keyPath ?? "networks", near: "networks", error.message)
        }
    }

    private func validateApiservers() throws(HAVPNError) {
        var indexOwners = [Int: Int](minimumCapacity: topology.apiservers.count)
        // Owners by position, not by key path: paths are spelled only for an error (10,000 pod IPs).
        var ipOwners = PodIPOwners(apiservers: topology.apiservers)
        for (i, apiserver) in topology.apiservers.enumerated() {
            if let owner = indexOwners[apiserver.index] {
                throw error(
                    .duplicate,
                    "apiservers[\(i)].index",
                    "index \(apiserver.index) is already used by apiservers[\(owner)]"
                )
            }
            indexOwners[apiserver.index] = i
            for (k, ip) in apiserver.podIPs.enumerated() {
                if let owner = ipOwners.insert(ip, apiserver: i, podIP: k) {
                    throw error(
                        .duplicate,
                        "apiservers[\(i)].podIPs[\(k)]",
                        "\(ip) is already listed as apiservers[\(owner.apiserver)].podIPs[\(owner.podIP)]"
                    )
                }
            }
        }
    }

    private func validateTimings() throws(HAVPNError) {
        let timings = topology.timings
        // A probe may still be outstanding when the next is sent, but one that outlives the whole unhealthy
        // window could never be the one that declares the client dead.
        let window = timings.probeInterval * timings.unhealthyThreshold
        if timings.probeTimeout > window {
            throw error(
                .invalidValue,
                "timings.probeTimeout",
                near: "timings",
                "\(DurationText.format(timings.probeTimeout)) exceeds probeInterval × unhealthyThreshold "
                    + "(\(DurationText.format(window)))"
            )
        }
        let announcements = topology.announcements
        // A peer must outlive the gap between two announcements, or it flaps between every pair of them.
        if announcements.lifetime <= announcements.interval {
            throw error(
                .invalidValue,
                "announcements.lifetime",
                near: "announcements.interval",
                "\(DurationText.format(announcements.lifetime)) must be longer than announcements.interval "
                    + "(\(DurationText.format(announcements.interval)))"
            )
        }
        // vpn2's path-controller pings every client and then announces, in one cycle: while one shoot
        // client is dead the cycle takes 10-12 s, so a peer announcing in vpn2's format may be silent that
        // long. Two such gaps plus a lost datagram must fit, or its tunnel flaps (47 % present at 5 s).
        if announcements.format == .vpn2 && announcements.lifetime < Self.minimumVPN2Lifetime {
            throw error(
                .invalidValue,
                "announcements.lifetime",
                near: "announcements",
                "\(DurationText.format(announcements.lifetime)) is shorter than \(DurationText.format(Self.minimumVPN2Lifetime)), "
                    + "which vpn2 senders need (they announce only every 10-12 s while a shoot client is dead)"
            )
        }
    }

    /// The shortest lifetime that vpn2's announcement rhythm sustains (see `validateTimings`).
    static let minimumVPN2Lifetime: Duration = .seconds(30)
}

/// Pod IPs seen so far and where each was listed, for the duplicate check. Open addressing over a mix of the
/// address bits: a `Dictionary` hashes each of 10,000 addresses with SipHash, which cost more than parsing them.
/// The mix is seeded per process, so a crafted file cannot know which addresses collide. A slot holds only where
/// an address is listed, and the address is read from there: 8 bytes an address, at most two thirds full. The
/// slot's top 16 bits are the hash's, so a probe that meets another address almost never reads it (at two thirds
/// full a probe meets a few): fingerprint << 48 | (apiserver + 1) << 28 | podIP. The file's 16 MiB bound keeps
/// both positions in their bits (65,535 apiservers at most; far fewer than 2^28 pod IPs). Every page a
/// short-lived `validate` or `plan` touches costs a page fault.
private struct PodIPOwners {
    private let apiservers: [Topology.ApiserverInstance]
    private var slots: [UInt64]
    private let mask: Int
    private let seed = UInt64.random(in: .min ... .max)

    init(apiservers: [Topology.ApiserverInstance]) {
        let capacity = apiservers.reduce(0) { $0 + $1.podIPs.count }
        var size = 16
        while size < capacity + capacity / 2 { size <<= 1 }
        self.apiservers = apiservers
        slots = Array(repeating: 0, count: size)
        mask = size - 1
    }

    /// Notes `address` as listed at `apiserver`, `podIP`, unless it was listed before: then returns where.
    mutating func insert(_ address: IPAddress, apiserver: Int, podIP: Int) -> (apiserver: Int, podIP: Int)? {
        precondition(apiserver + 1 < 1 << 20 && podIP < 1 << 28)
        let hash = hash(address)
        let fingerprint = UInt64(truncatingIfNeeded: hash) & Self.fingerprintBits
        var slot = hash & mask
        while slots[slot] != 0 {
            let entry = slots[slot]
            if entry & Self.fingerprintBits == fingerprint {
                let owner = (apiserver: Int(entry >> 28 & 0xF_FFFF) - 1, podIP: Int(entry & 0xFFF_FFFF))
                if apiservers[owner.apiserver].podIPs[owner.podIP] == address { return owner }
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = fingerprint | UInt64(apiserver + 1) << 28 | UInt64(podIP)
        return nil
    }

    private static let fingerprintBits: UInt64 = 0xFFFF << 48

    /// MurmurHash3's 64-bit finalizer over the seeded address bits.
    private func hash(_ address: IPAddress) -> Int {
        var x: UInt64
        switch address {
        case .v4(let a): x = UInt64(a.value)
        case .v6(let a): x = a.high ^ (a.low &* 0x9E37_79B9_7F4A_7C15) ^ 1
        }
        x ^= seed
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return Int(truncatingIfNeeded: x)
    }
}
