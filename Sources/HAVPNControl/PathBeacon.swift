import HAVPNModel

/// The L2 probe havpn sends on every tap to learn whether a VPN server path still carries traffic.
///
/// A pod broadcasts a request on tap i (an AF_PACKET frame with ``etherType``); server i's openvpn
/// floods it to all of its clients (client-to-client); every other pod answers on its own tap i,
/// and the reply travels back the same way. So "a reply on tap i from a pod of the opposite role"
/// means "server i relays between me and the pods I talk to", which carrier cannot tell (a partitioned server keeps
/// every tap's carrier up for the ~30 s until openvpn's ping-restart).
///
/// Layout (big-endian): "HAVB", version 1, kind (1 request, 2 reply), role, index (2), server,
/// sequence (2); a reply adds the requester's role and index (2).
public struct PathBeacon: Hashable, Sendable {
    /// IEEE 802 "local experimental" EtherType 1.
    public static let etherType: UInt16 = 0x88B5
    static let magic: [UInt8] = Array("HAVB".utf8)

    public enum Kind: UInt8, Sendable { case request = 1, reply = 2 }

    public var kind: Kind
    /// Sender's role and index.
    public var role: Role
    public var index: Int
    public var server: Int
    public var sequence: UInt16
    /// For replies: whom this answers.
    public var requester: (role: Role, index: Int)? {
        get { requesterRole.map { ($0, requesterIndex) } }
        set {
            requesterRole = newValue?.role
            requesterIndex = newValue?.index ?? 0
        }
    }
    private var requesterRole: Role?
    private var requesterIndex: Int = 0

    public init(
        kind: Kind,
        role: Role,
        index: Int,
        server: Int,
        sequence: UInt16,
        requester: (role: Role, index: Int)? = nil
    ) {
        self.kind = kind
        self.role = role
        self.index = index
        self.server = server
        self.sequence = sequence
        self.requester = requester
    }

    /// The answer a pod of `role`/`index` gives to this request.
    public func reply(role: Role, index: Int) -> PathBeacon {
        PathBeacon(
            kind: .reply,
            role: role,
            index: index,
            server: server,
            sequence: sequence,
            requester: (self.role, self.index)
        )
    }

    /// Whether a pod of `role` answers requests from `other`: every pod with a bond (apiservers and
    /// shoot pods) answers every other, so that each knows which pods every path reaches
    /// (completeness, see ``PathSelector``). Earlier havpn versions answered only the opposite role, which is harmless: a pod never heard counts on no path.
    public static func answers(_ role: Role, requestFrom other: Role) -> Bool {
        role != .server && other != .server
    }

    /// Whether a reply from a pod of `other` proves the path for a pod of `role`: only the pods
    /// it talks to count (apiservers and shoot pods for each other).
    public static func provesPath(for role: Role, replyFrom other: Role) -> Bool {
        (role == .apiserver && other == .shoot) || (role == .shoot && other == .apiserver)
    }

    public var bytes: [UInt8] {
        var b =
            Self.magic + [
                1, kind.rawValue, Self.code(role), UInt8(index >> 8 & 0xff), UInt8(index & 0xff), UInt8(server & 0xff),
                UInt8(sequence >> 8), UInt8(sequence & 0xff),
            ]
        if kind == .reply, let r = requester {
            b += [Self.code(r.role), UInt8(r.index >> 8 & 0xff), UInt8(r.index & 0xff)]
        }
        return b
    }

    /// nil for anything that is not a well-formed beacon (other senders may use the EtherType).
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 12, Array(bytes[0..<4]) == Self.magic, bytes[4] == 1,
            let kind = Kind(rawValue: bytes[5]), let role = Self.role(bytes[6])
        else { return nil }
        self.init(
            kind: kind,
            role: role,
            index: Int(bytes[7]) << 8 | Int(bytes[8]),
            server: Int(bytes[9]),
            sequence: UInt16(bytes[10]) << 8 | UInt16(bytes[11])
        )
        if kind == .reply {
            guard bytes.count >= 15, let r = Self.role(bytes[12]) else { return nil }
            requester = (r, Int(bytes[13]) << 8 | Int(bytes[14]))
        }
    }

    private static func code(_ r: Role) -> UInt8 {
        switch r {
        case .apiserver: 1
        case .shoot: 2
        case .server: 3
        }
    }

    private static func role(_ c: UInt8) -> Role? {
        switch c {
        case 1: .apiserver
        case 2: .shoot
        case 3: .server
        default: nil
        }
    }

    public static func == (a: Self, b: Self) -> Bool { a.bytes == b.bytes }
    public func hash(into h: inout Hasher) { h.combine(bytes) }
}
