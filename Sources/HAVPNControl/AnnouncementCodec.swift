import HAVPNModel

/// Encodes and decodes announcements, in both formats. Decoding is total: every input yields
/// either a message or an ``AnnouncementRejection``; it never traps.
///
/// **vpn2 format**: the payload is the kube-apiserver pod IP as ASCII text (IPv4 or IPv6); the
/// sender's identity is the UDP source address (its bond address). No sequence, lifetime, withdraw
/// or authentication.
///
/// **havpn format** (all integers big-endian):
/// ```
/// offset size
///  0     4   magic "HAVP"
///  4     1   version = 1
///  5     1   type: 1 announce, 2 withdraw
///  6     1   flags: bit 0 = HMAC-SHA256 tag appended; other bits must be 0
///  7     8   sequence (UInt64)
/// 15     4   lifetime in ms (UInt32; 0 = receiver's default)
/// 19    16   bond address (IPv6)
/// 35     1   pod IP count n (0...8; ≥ 1 for announce)
/// 36     …   n × (family: 4 | 6, then 4 | 16 address bytes)
///  …    32   HMAC-SHA256(key, every byte before the tag), iff flag bit 0
/// ```
/// The formats can't be confused: vpn2 text is made of decimal and hex digits, `.` and `:`, and
/// never starts with `H`, so any payload starting with `H` is decoded as havpn.
///
/// Authentication: with a key configured, a havpn message must carry a valid tag (`authRequired`,
/// `authFailed`) and vpn2 text is rejected (`authRequired`). Without a key, a tag is not verified
/// and the message is accepted with `authenticated: false` (so senders can be given the key first).
public enum AnnouncementCodec {
    public static let magic: [UInt8] = Array("HAVP".utf8)
    public static let version: UInt8 = 1
    public static let headerSize = 36
    public static let tagSize = 32
    public static let maxPodIPs = 8
    static let flagAuthenticated: UInt8 = 0x01

    /// The havpn encoding; with a key, the tag is appended and the flag set.
    public static func encode(_ m: HAVPNAnnouncement, key: [UInt8]? = nil) -> [UInt8] {
        precondition(m.podIPs.count <= maxPodIPs)
        var b = magic
        b.append(version)
        b.append(m.kind.rawValue)
        b.append(key == nil ? 0 : flagAuthenticated)
        for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: m.sequence >> (56 - 8 * UInt64(i)))) }
        for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: m.lifetimeMilliseconds >> (24 - 8 * UInt32(i)))) }
        b += m.bondAddress.bytes
        b.append(UInt8(m.podIPs.count))
        for ip in m.podIPs {
            b.append(ip.family == .ipv4 ? 4 : 6)
            b += ip.bytes
        }
        if let key { b += HMACSHA256.authenticationCode(for: b, key: key) }
        return b
    }

    /// The vpn2 encoding: the pod IP as ASCII.
    public static func encodeVPN2(podIP: IPAddress) -> [UInt8] { Array(podIP.description.utf8) }

    /// Decodes either format (see the type's documentation for the rules).
    public static func decode(_ bytes: [UInt8], key: [UInt8]? = nil) -> Result<
        DecodedAnnouncement, AnnouncementRejection
    > {
        guard let first = bytes.first else { return .failure(.tooShort) }
        if first == UInt8(ascii: "H") { return decodeHAVPN(bytes, key: key).map { .havpn($0.0, authenticated: $0.1) } }
        return decodeVPN2(bytes, key: key).map { .vpn2(podIP: $0) }
    }

    static func decodeVPN2(_ bytes: [UInt8], key: [UInt8]?) -> Result<IPAddress, AnnouncementRejection> {
        // The longest address text is 45 characters (IPv4-mapped IPv6 in full form).
        guard bytes.count <= 45, bytes.allSatisfy({ $0 >= 0x21 && $0 < 0x7f }),
            let ip = IPAddress(String(decoding: bytes, as: UTF8.self))
        else { return .failure(.badAddress) }
        if key != nil { return .failure(.authRequired) }
        return .success(ip.unmapped)
    }

    static func decodeHAVPN(_ b: [UInt8], key: [UInt8]?) -> Result<(HAVPNAnnouncement, Bool), AnnouncementRejection> {
        guard b.count >= 5 else { return .failure(.tooShort) }
        guard Array(b[0..<4]) == magic else { return .failure(.badMagic) }
        guard b[4] == version else { return .failure(.unsupportedVersion) }
        guard b.count >= headerSize else { return .failure(.truncated) }
        guard let kind = HAVPNAnnouncement.Kind(rawValue: b[5]) else { return .failure(.badType) }
        let flags = b[6]
        guard flags & ~flagAuthenticated == 0 else { return .failure(.badFlags) }
        let sequence = b[7..<15].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let lifetime = b[15..<19].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let bond = IPv6Address(bytes: Array(b[19..<35]))
        let count = Int(b[35])
        guard count <= maxPodIPs else { return .failure(.tooManyAddresses) }
        if kind == .announce && count == 0 { return .failure(.noPodIPs) }
        var pos = headerSize
        var ips: [IPAddress] = []
        for _ in 0..<count {
            guard pos < b.count else { return .failure(.truncated) }
            let width: Int
            switch b[pos] {
            case 4: width = 4
            case 6: width = 16
            default: return .failure(.badAddress)
            }
            guard b.count - pos - 1 >= width else { return .failure(.truncated) }
            let raw = Array(b[(pos + 1)..<(pos + 1 + width)])
            ips.append(width == 4 ? .v4(IPv4Address(bytes: raw)) : IPAddress.v6(IPv6Address(bytes: raw)).unmapped)
            pos += 1 + width
        }
        let tagged = flags & flagAuthenticated != 0
        let end = tagged ? pos + tagSize : pos
        guard b.count >= end else { return .failure(.truncated) }
        guard b.count == end else { return .failure(.trailingBytes) }
        var authenticated = false
        if let key {
            guard tagged else { return .failure(.authRequired) }
            guard HMACSHA256.isValid(authenticationCode: b[pos..<end], for: b[0..<pos], key: key) else {
                return .failure(.authFailed)
            }
            authenticated = true
        }
        let m = HAVPNAnnouncement(
            kind: kind,
            sequence: sequence,
            lifetimeMilliseconds: lifetime,
            bondAddress: bond,
            podIPs: ips
        )
        return .success((m, authenticated))
    }
}
