/// IPv4 address as a 32-bit value (host order).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Four decimal octets. Parsed byte by byte: a topology can list 10,000 of them.
    public init?(_ text: some StringProtocol) {
        // A native or small string's bytes in place: iterating `utf8` costs several times the parse itself.
        guard
            let value = text.utf8.withContiguousStorageIfAvailable(Self.parse)
                ?? Array(text.utf8).withUnsafeBufferPointer(Self.parse)
        else { return nil }
        self.value = value
    }

    /// The value of four decimal octets in UTF-8, or nil.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> UInt32? {
        var v: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                dots += 1
                v = v << 8 | octet
                octet = 0
                digits = 0
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                // Leading zeros are ambiguous (octal in inet_aton); reject them.
                guard digits < 3, digits == 0 || octet != 0 else { return nil }
                digits += 1
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return v << 8 | octet
    }

    public var bytes: [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) } }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 4)
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Dotted decimal, written digit by digit into one small string: an apply of 10,000 routes
    /// prints each of them, and mapping the octets through an array of strings cost 3,000
    /// instructions an address.
    public var description: String {
        String(unsafeUninitializedCapacity: 15) { text in
            var n = 0
            for shift in [24, 16, 8, 0] as [UInt32] {
                if shift != 24 {
                    text[n] = UInt8(ascii: ".")
                    n += 1
                }
                let octet = UInt8(truncatingIfNeeded: value >> shift)
                if octet >= 100 {
                    text[n] = UInt8(ascii: "0") + octet / 100
                    n += 1
                }
                if octet >= 10 {
                    text[n] = UInt8(ascii: "0") + octet / 10 % 10
                    n += 1
                }
                text[n] = UInt8(ascii: "0") + octet % 10
                n += 1
            }
            return n
        }
    }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
}

/// IPv6 address as two 64-bit halves (host order), printed in RFC 5952 form.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16)
        high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public var groups: [UInt16] {
        let b = bytes
        return (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
    }

    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        let halves = s.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        func parseGroups(_ part: Substring, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, item) in items.enumerated() {
                if i == items.count - 1, allowV4Tail, item.contains(".") {
                    guard let v4 = IPv4Address(item) else { return nil }
                    out.append(UInt16(v4.value >> 16))
                    out.append(UInt16(v4.value & 0xffff))
                    continue
                }
                guard (1...4).contains(item.count), let g = UInt16(item, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }
        if halves.count == 2 {
            guard let h = parseGroups(halves[0], allowV4Tail: false),
                let t = parseGroups(halves[1], allowV4Tail: true), h.count + t.count <= 7
            else { return nil }
            head = h
            tail = t
        } else {
            guard let h = parseGroups(halves[0], allowV4Tail: true), h.count == 8 else { return nil }
            head = h
        }
        let groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        var b: [UInt8] = []
        for g in groups { b += [UInt8(g >> 8), UInt8(g & 0xff)] }
        self.init(bytes: b)
    }

    public var description: String {
        let g = groups
        // RFC 5952: compress the longest run (≥ 2) of zero groups, the first one on a tie.
        var bestStart = -1
        var bestLen = 0
        var i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen {
                    bestStart = i
                    bestLen = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        if bestLen < 2 { return hex(g[0..<8]) }
        return hex(g[0..<bestStart]) + "::" + hex(g[(bestStart + bestLen)..<8])
    }

    public static func < (a: Self, b: Self) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

extension String {
    fileprivate func components(separatedByDoubleColon: ()) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == ":", next < endIndex, self[next] == ":" {
                parts.append(self[start..<i])
                start = index(after: next)
                i = start
                continue
            }
            i = next
        }
        parts.append(self[start..<endIndex])
        return parts
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: some StringProtocol) {
        if let a = IPv4Address(text) {
            self = .v4(a)
        } else if let a = IPv6Address(text) {
            self = .v6(a)
        } else {
            return nil
        }
    }

    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    public var bitWidth: Int { family == .ipv4 ? 32 : 128 }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it stands for; any
    /// other address unchanged. A pod IP announced in mapped form is an IPv4 pod IP: its back
    /// route is a /32 (as vpn2 makes it), not a /128 that no IPv4 packet would ever match.
    public var unmapped: IPAddress {
        guard case .v6(let a) = self, a.high == 0, a.low >> 32 == 0xffff else { return self }
        return .v4(IPv4Address(UInt32(truncatingIfNeeded: a.low)))
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    /// One or two words into the hasher, instead of the synthesized case tag and fields: a plan
    /// of 10,000 routes hashes each destination several times. An IPv4 address and an IPv6
    /// address with the same low word may collide, which only costs a comparison.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .v4(let a): hasher.combine(UInt64(a.value))
        case .v6(let a):
            hasher.combine(a.high)
            hasher.combine(a.low)
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.v4(let x), .v4(let y)): x < y
        case (.v6(let x), .v6(let y)): x < y
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}

public enum IPFamily: String, Hashable, Sendable, Comparable, CaseIterable, Codable {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"
    public static func < (a: Self, b: Self) -> Bool { a == .ipv4 && b == .ipv6 }
}

/// A network in CIDR form. The address is always the network address (host bits zero).
public struct IPNetwork: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Fails when the text is not `address/prefix` or the prefix is out of range.
    /// Host bits must be zero unless `allowHostBits` (then they are cleared).
    public init?(_ text: some StringProtocol, allowHostBits: Bool = false) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPAddress(parts[0]),
            parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty, parts[1].count <= 3,
            parts[1] == "0" || parts[1].first != "0",
            let p = Int(parts[1]), p >= 0, p <= a.bitWidth
        else { return nil }
        let masked = IPNetwork.mask(a, p)
        if masked != a && !allowHostBits { return nil }
        address = masked
        prefixLength = p
    }

    public init(address: IPAddress, prefixLength: Int) {
        precondition(prefixLength >= 0 && prefixLength <= address.bitWidth)
        self.address = IPNetwork.mask(address, prefixLength)
        self.prefixLength = prefixLength
    }

    /// A host route (/32 or /128) for one address.
    public init(host: IPAddress) { self.init(address: host, prefixLength: host.bitWidth) }

    public var family: IPFamily { address.family }

    static func mask(_ a: IPAddress, _ p: Int) -> IPAddress {
        switch a {
        case .v4(let v):
            let m: UInt32 = p == 0 ? 0 : ~UInt32(0) << (32 - p)
            return .v4(IPv4Address(v.value & m))
        case .v6(let v):
            let mh: UInt64 = p == 0 ? 0 : (p >= 64 ? ~0 : ~UInt64(0) << (64 - p))
            let ml: UInt64 = p <= 64 ? 0 : (p == 128 ? ~0 : ~UInt64(0) << (128 - p))
            return .v6(IPv6Address(high: v.high & mh, low: v.low & ml))
        }
    }

    public func contains(_ a: IPAddress) -> Bool {
        a.family == family && IPNetwork.mask(a, prefixLength) == address
    }

    public func overlaps(_ other: IPNetwork) -> Bool {
        guard family == other.family else { return false }
        let p = min(prefixLength, other.prefixLength)
        return IPNetwork.mask(address, p) == IPNetwork.mask(other.address, p)
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public static func < (a: Self, b: Self) -> Bool { (a.address, a.prefixLength) < (b.address, b.prefixLength) }
}
