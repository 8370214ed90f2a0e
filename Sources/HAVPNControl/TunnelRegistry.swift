import HAVPNModel

/// The tunnel-controller's brain (shoot side): which kube-apiservers exist, from announcements.
///
/// Admission, in order; the first failing rule rejects the packet and counts it by reason:
/// 1. it arrived on the bond device (`wrongDevice`);
/// 2. its source is an IPv6 address in the bond network (`sourceOutsideBondNetwork`) and in the
///    apiserver range `::a:1` … `::a:ffff` (`sourceNotApiserver`);
/// 3. it decodes (the codec's reasons; with a key: `authRequired` / `authFailed`, and vpn2 text is
///    `authRequired`), in an accepted format (`formatNotAccepted`);
/// 4. havpn only: the bond address in the message is the source (`sourceMismatch`) and the
///    sequence is above the last accepted one of that peer (`replay`);
/// 5. a new peer fits under `maxPeers` (`overCapacity`).
///
/// State: bond address → pod IPs + expiry. An announce creates or refreshes the peer for its
/// lifetime (havpn: the message's, capped at `maxLifetime`, 0 = default; vpn2: `defaultLifetime`);
/// a changed pod IP set replaces the entry (vpn2 #136); a withdraw removes it at once; `tick`
/// removes expired peers. A pod IP newly claimed by another bond address moves to the claimant
/// (a new apiserver pod got a dead one's IP before the dead one expired); a peer left without pod
/// IPs is removed. ``Step/changed`` tells the run loop whether ``peers`` changed.
///
/// **Address conflicts.** Two pods announcing one bond address (colliding derived indices) are
/// reported once as ``Step/conflict`` and listed by ``conflicts(at:)``: after a second pod IP set
/// claims the address ``conflictClaims`` times within `defaultLifetime`, as a havpn sender whose
/// sequence is below the other's (rejected as `replay`) or as vpn2 senders alternating. The
/// newest accepted claim keeps the tunnel, as before; the report is what tells the operator.
///
/// **Sequence spaces.** The sequence floor lives with the entry. After the entry expired or was
/// withdrawn it is forgotten, so a restarted apiserver that starts a new, lower sequence space is
/// accepted then. Until then its lower numbers are `replay`s, so senders start from wall-clock
/// milliseconds (``AnnouncementScheduler``) and restarts normally keep increasing anyway. The cost:
/// a recorded authentic message can be replayed after its peer expired or withdrew, resurrecting
/// it for at most one lifetime, and only with pod IPs that peer really had.
public struct TunnelRegistry: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// The bond network (``AddressPlan/bondNetwork``).
        public var bondNetwork: IPNetwork
        public var bondDevice: String
        public var defaultLifetime: Duration
        public var maxLifetime: Duration
        public var maxPeers: Int
        /// Shared HMAC key; nil disables authentication.
        public var key: AnnouncementKey?
        public var acceptedFormats: Set<Topology.AnnouncementFormat>

        public init(
            bondNetwork: IPNetwork, bondDevice: String = "bond0", defaultLifetime: Duration = .seconds(60),
            maxLifetime: Duration = .seconds(600), maxPeers: Int = 64, key: AnnouncementKey? = nil,
            acceptedFormats: Set<Topology.AnnouncementFormat> = Set(Topology.AnnouncementFormat.allCases)
        ) {
            self.bondNetwork = bondNetwork
            self.bondDevice = bondDevice
            self.defaultLifetime = defaultLifetime
            self.maxLifetime = maxLifetime
            self.maxPeers = maxPeers
            self.key = key
            self.acceptedFormats = acceptedFormats
        }

        /// From the topology: bond network = the transport /96 widened to /104, bond device,
        /// lifetime and cap from `announcements`, and only the configured format. Accepting vpn2's
        /// plain-text format next to havpn's would let anyone in the bond network who can send one
        /// UDP packet create a tunnel, even where havpn's format is configured; interop with vpn2
        /// peers is an explicit choice (`format: vpn2`).
        public init(topology: Topology, key: AnnouncementKey?) {
            self.init(
                bondNetwork: AddressPlan.bondNetwork(transport: topology.transport.network),
                bondDevice: topology.devices.bond, defaultLifetime: topology.announcements.lifetime,
                maxPeers: topology.announcements.maxPeers, key: key,
                acceptedFormats: [topology.announcements.format])
        }
    }

    /// The result of one event.
    public struct Step: Hashable, Sendable {
        /// ``TunnelRegistry/peers`` differs from before the event: reconcile.
        public var changed: Bool
        public var rejection: AnnouncementRejection?
        /// Set once, when this event made two live claimants of one bond address evident.
        public var conflict: AddressConflict?
        public init(changed: Bool, rejection: AnnouncementRejection? = nil, conflict: AddressConflict? = nil) {
            self.changed = changed
            self.rejection = rejection
            self.conflict = conflict
        }
    }

    /// Two kube-apiserver pods announce the same bond address: their derived indices collided
    /// (low 16 bits of an IPv4 pod IP, a hash of an IPv6 one) or two were given the same
    /// `--index`. Only one of them can have the tunnel; the other's traffic goes nowhere.
    public struct AddressConflict: Hashable, Sendable, CustomStringConvertible {
        public var bondAddress: IPv6Address
        /// The pod IPs the tunnel routes to now, and those of the other claimant.
        public var podIPs: [IPAddress]
        public var rivalPodIPs: [IPAddress]
        public init(bondAddress: IPv6Address, podIPs: [IPAddress], rivalPodIPs: [IPAddress]) {
            self.bondAddress = bondAddress
            self.podIPs = podIPs
            self.rivalPodIPs = rivalPodIPs
        }
        /// The same conflict after the rival took the tunnel over.
        var swapped: AddressConflict { AddressConflict(bondAddress: bondAddress, podIPs: rivalPodIPs, rivalPodIPs: podIPs) }
        public var description: String {
            "\(bondAddress) claimed by pods \(podIPs.map(\.description).joined(separator: ",")) and \(rivalPodIPs.map(\.description).joined(separator: ","))"
        }
    }

    /// Claims by a second pod IP set before a conflict is reported: a pod that really changed its
    /// IP (vpn2 #136) makes one, and a reordered or replayed old message one more; a live second
    /// sender keeps making them every announcement interval.
    static let conflictClaims = 3

    struct Entry: Sendable {
        var podIPs: [IPAddress]
        var expiresAt: Instant
        var lastSequence: UInt64?
        /// Another pod IP set claiming this bond address lately, how often, and when last.
        var rival: [IPAddress]? = nil
        var rivalClaims = 0
        var rivalSeenAt: Instant = .zero
    }

    public let configuration: Configuration
    private var entries: [IPv6Address: Entry] = [:]
    public private(set) var rejections: [AnnouncementRejection: Int] = [:]
    public private(set) var acceptedCount = 0

    public init(configuration: Configuration) { self.configuration = configuration }

    /// Known peers, sorted by bond address.
    public var peers: [ApiserverPeer] {
        entries.map { ApiserverPeer(bondAddress: $0.key, podIPs: $0.value.podIPs) }.sorted()
    }

    /// Bond addresses that two pods have been claiming within the last `defaultLifetime`.
    public func conflicts(at now: Instant) -> [AddressConflict] {
        entries.compactMap { bond, e in
            guard let rival = e.rival, e.rivalClaims >= Self.conflictClaims, now - e.rivalSeenAt < configuration.defaultLifetime
            else { return nil }
            return AddressConflict(bondAddress: bond, podIPs: e.podIPs, rivalPodIPs: rival)
        }.sorted { $0.bondAddress < $1.bondAddress }
    }

    /// When the next peer expires (call ``tick(at:)`` then).
    public var nextExpiry: Instant? { entries.values.map(\.expiresAt).min() }

    public mutating func tick(at now: Instant) -> Step { Step(changed: expire(at: now)) }

    /// One UDP datagram received from `source` on `device`.
    public mutating func announcement(from source: IPAddress, device: String, payload: [UInt8], at now: Instant) -> Step {
        let expired = expire(at: now)
        switch admit(source: source, device: device, payload: payload) {
        case .failure(let reason):
            rejections[reason, default: 0] += 1
            return Step(changed: expired, rejection: reason)
        case .success(let (bond, decoded)):
            let result = apply(bond: bond, decoded, at: now)
            if let reason = result.rejection {
                rejections[reason, default: 0] += 1
            } else {
                acceptedCount += 1
            }
            return Step(changed: expired || result.changed, rejection: result.rejection, conflict: result.conflict)
        }
    }

    private func admit(source: IPAddress, device: String, payload: [UInt8])
        -> Result<(IPv6Address, DecodedAnnouncement), AnnouncementRejection>
    {
        guard device == configuration.bondDevice else { return .failure(.wrongDevice) }
        guard case .v6(let bond) = source, configuration.bondNetwork.contains(source) else {
            return .failure(.sourceOutsideBondNetwork)
        }
        guard AddressPlan.apiserverIndex(ofAddressInBondNetwork: bond) != nil else { return .failure(.sourceNotApiserver) }
        let decoded: DecodedAnnouncement
        switch AnnouncementCodec.decode(payload, key: configuration.key?.bytes) {
        case .failure(let r): return .failure(r)
        case .success(let d): decoded = d
        }
        switch decoded {
        case .vpn2:
            guard configuration.acceptedFormats.contains(.vpn2) else { return .failure(.formatNotAccepted) }
        case .havpn(let m, _):
            guard configuration.acceptedFormats.contains(.havpn) else { return .failure(.formatNotAccepted) }
            guard m.bondAddress == bond else { return .failure(.sourceMismatch) }
        }
        return .success((bond, decoded))
    }

    private mutating func apply(bond: IPv6Address, _ decoded: DecodedAnnouncement, at now: Instant) -> Step {
        let podIPs: [IPAddress]
        let lifetime: Duration
        var sequence: UInt64?
        switch decoded {
        case .vpn2(let ip):
            podIPs = [ip]
            lifetime = configuration.defaultLifetime
        case .havpn(let m, _):
            if let last = entries[bond]?.lastSequence, m.sequence <= last {
                // A second sender with its own, lower sequence space looks like replays of
                // another pod IP set; tell that apart from the one old message a change leaves.
                let claimed = Array(Set(m.podIPs)).sorted()
                var conflict: AddressConflict?
                if m.kind == .announce, var e = entries[bond], claimed != e.podIPs {
                    conflict = rivalClaim(&e, claimed, bond: bond, at: now)
                    entries[bond] = e
                }
                return Step(changed: false, rejection: .replay, conflict: conflict)
            }
            if m.kind == .withdraw {
                return Step(changed: entries.removeValue(forKey: bond) != nil)
            }
            sequence = m.sequence
            podIPs = Array(Set(m.podIPs)).sorted()
            lifetime =
                m.lifetimeMilliseconds == 0
                ? configuration.defaultLifetime
                : min(.milliseconds(Int64(m.lifetimeMilliseconds)), configuration.maxLifetime)
        }
        let old = entries[bond]
        if old == nil && entries.count >= configuration.maxPeers { return Step(changed: false, rejection: .overCapacity) }
        var entry = Entry(podIPs: podIPs, expiresAt: now + lifetime, lastSequence: sequence ?? old?.lastSequence)
        var conflict: AddressConflict?
        if var claim = old {
            if claim.podIPs != podIPs {
                // The pod IPs changed: a claim of the new set against the old one, which becomes
                // the rival. Two vpn2 senders (no sequence keeps one out) alternate like this.
                conflict = rivalClaim(&claim, podIPs, bond: bond, at: now).map { $0.swapped }
                claim.rival = claim.podIPs
            }
            entry.rival = claim.rival
            entry.rivalClaims = claim.rivalClaims
            entry.rivalSeenAt = claim.rivalSeenAt
        }
        entries[bond] = entry
        var changed = old?.podIPs != podIPs
        // A pod IP belongs to one peer: the newest claim wins.
        for (other, var e) in entries where other != bond && e.podIPs.contains(where: podIPs.contains) {
            e.podIPs.removeAll(where: podIPs.contains)
            entries[other] = e.podIPs.isEmpty ? nil : e
            changed = true
        }
        return Step(changed: changed, conflict: conflict)
    }

    /// Records a claim of `claimed` for an entry that routes to other pod IPs; returns the
    /// conflict when this claim is the one that makes it evident.
    private func rivalClaim(_ e: inout Entry, _ claimed: [IPAddress], bond: IPv6Address, at now: Instant) -> AddressConflict? {
        if e.rival == claimed, now - e.rivalSeenAt < configuration.defaultLifetime {
            e.rivalClaims += 1
        } else {
            e.rival = claimed
            e.rivalClaims = 1
        }
        e.rivalSeenAt = now
        return e.rivalClaims == Self.conflictClaims ? AddressConflict(bondAddress: bond, podIPs: e.podIPs, rivalPodIPs: claimed) : nil
    }

    private mutating func expire(at now: Instant) -> Bool {
        let before = entries.count
        entries = entries.filter { now < $0.value.expiresAt }
        return entries.count != before
    }
}
