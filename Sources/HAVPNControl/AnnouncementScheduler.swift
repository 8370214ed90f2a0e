import HAVPNModel

/// Decides when a kube-apiserver announces itself to the shoot clients (apiserver side).
///
/// Policy:
/// - every `interval`, one announcement to every target (each shoot client's bond address,
///   UDP port `announcements.port`); the first round goes out at once;
/// - a change of the pod IPs, or a new target, is announced at once (the receiver replaces the
///   entry, vpn2 #136) instead of waiting up to one interval;
/// - every havpn message gets a new, strictly larger sequence number, starting at the caller's
///   `initialSequence`; pass wall-clock milliseconds so a restarted process continues above
///   its predecessor (the receiver rejects non-increasing numbers as replays while the old entry
///   lives);
/// - ``shutdown(at:)`` sends a withdraw to every target and stops the schedule.
///
/// vpn2 format: the payload is the first pod IP only (a vpn2 receiver keys by source address, so
/// sending several IPs would make it flip between them), and there is no withdraw: the receiver
/// drops the peer after its lifetime.
public struct AnnouncementScheduler: Sendable {
    public struct Configuration: Hashable, Sendable {
        /// This apiserver's bond address (the source address of the datagrams).
        public var bondAddress: IPv6Address
        public var interval: Duration
        /// Lifetime put into havpn announcements.
        public var lifetime: Duration
        public var format: Topology.AnnouncementFormat
        public var key: AnnouncementKey?

        public init(
            bondAddress: IPv6Address, interval: Duration = .seconds(1), lifetime: Duration = .seconds(60),
            format: Topology.AnnouncementFormat = .havpn, key: AnnouncementKey? = nil
        ) {
            self.bondAddress = bondAddress
            self.interval = interval
            self.lifetime = lifetime
            self.format = format
            self.key = key
        }

        public init(announcements: Topology.Announcements, bondAddress: IPv6Address, key: AnnouncementKey?) {
            self.init(
                bondAddress: bondAddress, interval: announcements.interval, lifetime: announcements.lifetime,
                format: announcements.format, key: key)
        }
    }

    public enum Action: Hashable, Sendable {
        /// Send `payload` in one UDP datagram from the bond address to `to`.
        case send(to: IPv6Address, payload: [UInt8])
    }

    public let configuration: Configuration
    public private(set) var targets: [IPv6Address]
    public private(set) var podIPs: [IPAddress]
    /// The sequence number of the next havpn message.
    public private(set) var nextSequence: UInt64
    private var nextRound: Instant?
    public private(set) var isShutDown = false

    public init(configuration: Configuration, targets: [IPv6Address], podIPs: [IPAddress], initialSequence: UInt64, at now: Instant) {
        self.configuration = configuration
        self.targets = targets
        self.podIPs = podIPs
        self.nextSequence = initialSequence
        self.nextRound = now
    }

    /// Call ``tick(at:)`` no later than this; nil after shutdown.
    public var nextDeadline: Instant? { isShutDown ? nil : nextRound }

    public mutating func tick(at now: Instant) -> [Action] {
        guard !isShutDown, let due = nextRound, now >= due else { return [] }
        let next = due + configuration.interval
        nextRound = next > now ? next : now + configuration.interval
        return round(to: targets, kind: .announce)
    }

    /// New pod IPs: announced to every target at once if they differ.
    public mutating func setPodIPs(_ ips: [IPAddress], at now: Instant) -> [Action] {
        guard ips != podIPs else { return [] }
        podIPs = ips
        guard !isShutDown else { return [] }
        nextRound = now + configuration.interval
        return round(to: targets, kind: .announce)
    }

    /// New target list: the added targets get an announcement at once.
    public mutating func setTargets(_ new: [IPv6Address], at now: Instant) -> [Action] {
        let added = new.filter { !targets.contains($0) }
        targets = new
        guard !isShutDown else { return [] }
        return round(to: added, kind: .announce)
    }

    /// Graceful shutdown: withdraw everywhere (havpn format), then stay silent.
    public mutating func shutdown(at now: Instant) -> [Action] {
        guard !isShutDown else { return [] }
        isShutDown = true
        guard configuration.format == .havpn else { return [] }
        return round(to: targets, kind: .withdraw)
    }

    private mutating func round(to recipients: [IPv6Address], kind: HAVPNAnnouncement.Kind) -> [Action] {
        guard !recipients.isEmpty, let payload = makePayload(kind) else { return [] }
        return recipients.map { .send(to: $0, payload: payload) }
    }

    private mutating func makePayload(_ kind: HAVPNAnnouncement.Kind) -> [UInt8]? {
        switch configuration.format {
        case .vpn2:
            return podIPs.first.map(AnnouncementCodec.encodeVPN2(podIP:))
        case .havpn:
            if kind == .announce && podIPs.isEmpty { return nil }
            let ms = configuration.lifetime.milliseconds
            let m = HAVPNAnnouncement(
                kind: kind, sequence: nextSequence,
                lifetimeMilliseconds: UInt32(clamping: max(ms, 1)),
                bondAddress: configuration.bondAddress,
                podIPs: kind == .withdraw ? [] : Array(podIPs.prefix(AnnouncementCodec.maxPodIPs)))
            nextSequence &+= 1
            return AnnouncementCodec.encode(m, key: configuration.key?.bytes)
        }
    }
}
