import HAVPNModel

/// havpn's own announcement: what a kube-apiserver tells each shoot client about itself.
public struct HAVPNAnnouncement: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable, CaseIterable {
        case announce = 1
        /// Graceful shutdown: remove the peer at once.
        case withdraw = 2
    }

    public var kind: Kind
    /// Increases with every message of one sender (per bond address).
    public var sequence: UInt64
    /// How long the receiver keeps the peer without a newer announcement; 0 = receiver's default.
    public var lifetimeMilliseconds: UInt32
    /// The sender's bond address; must equal the UDP source address.
    public var bondAddress: IPv6Address
    /// The kube-apiserver pod IPs (at most ``AnnouncementCodec/maxPodIPs``); empty only for withdraw.
    public var podIPs: [IPAddress]

    public init(
        kind: Kind,
        sequence: UInt64,
        lifetimeMilliseconds: UInt32,
        bondAddress: IPv6Address,
        podIPs: [IPAddress]
    ) {
        self.kind = kind
        self.sequence = sequence
        self.lifetimeMilliseconds = lifetimeMilliseconds
        self.bondAddress = bondAddress
        self.podIPs = podIPs
    }
}

/// A decoded UDP payload.
public enum DecodedAnnouncement: Hashable, Sendable {
    /// vpn2 format: the ASCII pod IP; the sender is identified by the UDP source address only.
    case vpn2(podIP: IPAddress)
    /// havpn format; `authenticated` is true when an HMAC tag was present **and verified**.
    case havpn(HAVPNAnnouncement, authenticated: Bool)
}

/// Why an announcement was not used. Counted per reason by ``TunnelRegistry``.
public enum AnnouncementRejection: String, Error, Hashable, Sendable, CaseIterable {
    // Decoding (AnnouncementCodec)
    /// Empty payload, or too short to hold a havpn magic and version.
    case tooShort
    /// Starts like a havpn message (`H`) but the magic isn't "HAVP".
    case badMagic
    case unsupportedVersion
    case badType
    /// Reserved flag bits set.
    case badFlags
    /// Shorter than its header, address list or tag says.
    case truncated
    /// Unparsable vpn2 text, unknown address family byte.
    case badAddress
    /// An announce without pod IPs.
    case noPodIPs
    case tooManyAddresses
    /// A key is configured and the message carries no tag (or is in vpn2 format).
    case authRequired
    case authFailed
    case trailingBytes
    // Registry (TunnelRegistry)
    /// The format is not in the accepted set.
    case formatNotAccepted
    /// Source address not in the bond network.
    case sourceOutsideBondNetwork
    /// Source in the bond network but not an apiserver address (`::a:1` … `::a:ffff`).
    case sourceNotApiserver
    /// Arrived on a device other than the bond.
    case wrongDevice
    /// havpn bond address differs from the UDP source address.
    case sourceMismatch
    /// havpn sequence not above the last accepted one of that peer.
    case replay
    /// A new peer while `maxPeers` are known.
    case overCapacity
}
