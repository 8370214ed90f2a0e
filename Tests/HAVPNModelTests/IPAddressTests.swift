import Glibc
import HAVPNModel
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: ["0.0.0.0", "10.1.0.5", "255.255.255.255", "100.96.0.1"])
    func ipv4RoundTrips(text: String) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.description == text)
        #expect(IPv4Address(bytes: address.bytes) == address)
    }

    /// Every octet value in every position prints as plain decimal (the description is written
    /// digit by digit) and parses back.
    @Test func ipv4PrintsEveryOctetInEveryPosition() throws {
        for octet in UInt32(0)...255 {
            for shift in [UInt32(24), 16, 8, 0] {
                let value = octet << shift | (shift == 0 ? 0x0A00_0000 : 7)
                let address = IPv4Address(value)
                let expected = address.bytes.map(String.init).joined(separator: ".")
                #expect(address.description == expected)
                #expect(IPv4Address(expected) == address)
            }
        }
    }

    /// The byte-by-byte parser agrees with glibc's inet_pton (which also refuses leading zeros) on 50,000
    /// seeded near-addresses: 3 to 5 groups of 0 to 4 digits, and now and then a byte swapped for one of
    /// the bytes on either side of the digits ('/', ':') or a dot.
    @Test func ipv4AgreesWithInetPton() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33) % bound
        }
        let digits = Array("0123456789".utf8)
        let odd = Array("/:.".utf8)
        var valid = 0
        for _ in 0..<50_000 {
            var bytes: [UInt8] = []
            for group in 0..<(3 + next(3)) {
                if group > 0 { bytes.append(UInt8(ascii: ".")) }
                for _ in 0..<next(5) { bytes.append(digits[next(10)]) }
            }
            if !bytes.isEmpty, next(4) == 0 { bytes[next(bytes.count)] = odd[next(odd.count)] }
            let text = String(decoding: bytes, as: UTF8.self)
            var address = in_addr()
            let expected = inet_pton(AF_INET, text, &address) == 1 ? UInt32(bigEndian: address.s_addr) : nil
            #expect(IPv4Address(text)?.value == expected, "\(text)")
            if expected != nil { valid += 1 }
        }
        #expect(valid > 300, "the strings must include addresses, not only refusals (\(valid))")
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", "1..2.3", " 1.2.3.4"])
    func ipv4Rejects(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    /// RFC 5952: lower case, no leading zeros, longest zero run compressed (first on a tie), no `::` for one group.
    @Test(arguments: [
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("fd8f:6d53:b97a:1:0:0:a:1", "fd8f:6d53:b97a:1::a:1"),
        ("fd8f:6d53:b97a:1::b:0", "fd8f:6d53:b97a:1::b:0"),
        ("1:0:0:0:0:0:0:0", "1::"),
    ])
    func ipv6PrintsRFC5952(text: String, expected: String) throws {
        let address = try #require(IPv6Address(text))
        #expect(address.description == expected)
        #expect(IPv6Address(expected) == address)
        #expect(IPv6Address(bytes: address.bytes) == address)
    }

    @Test(arguments: [
        "", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1", "1:2:3:4:5:6:7:8::",
        "::1.2.3", "::1.2.3.4:5", "fd8f::/96",
    ])
    func ipv6Rejects(text: String) {
        #expect(IPv6Address(text) == nil)
    }

    @Test func ipAddressPicksFamily() {
        #expect(IPAddress("10.0.0.1")?.family == .ipv4)
        #expect(IPAddress("fd00::1")?.family == .ipv6)
        #expect(IPAddress("fd00::1")?.bitWidth == 128)
        #expect(IPAddress("nope") == nil)
    }

    @Test func networkParsing() throws {
        let network = try #require(IPNetwork("100.96.0.0/11"))
        #expect(network.prefixLength == 11)
        #expect(network.description == "100.96.0.0/11")
        #expect(IPNetwork("10.1.0.5/16") == nil, "host bits are rejected by default")
        #expect(IPNetwork("10.1.0.5/16", allowHostBits: true)?.description == "10.1.0.0/16")
        #expect(IPNetwork("FD8F:6D53:B97A:1::/96")?.description == "fd8f:6d53:b97a:1::/96")
        #expect(IPNetwork("0.0.0.0/0")?.prefixLength == 0)
        #expect(IPNetwork("::/0")?.prefixLength == 0)
        #expect(IPNetwork("fd00::1/128")?.prefixLength == 128)
        #expect(IPNetwork(host: IPAddress("10.1.0.5")!).description == "10.1.0.5/32")
    }

    @Test(arguments: [
        "10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "/8", "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/ 8",
        "fd00::/129", "10.0.0.0/0008",
    ])
    func networkRejects(text: String) {
        #expect(IPNetwork(text) == nil)
    }

    @Test func containment() throws {
        let network = try #require(IPNetwork("fd8f:6d53:b97a:1::/96"))
        #expect(network.contains(IPAddress("fd8f:6d53:b97a:1::a:1")!))
        #expect(!network.contains(IPAddress("fd8f:6d53:b97a:2::a:1")!))
        #expect(!network.contains(IPAddress("10.0.0.1")!), "other family")
        let v4 = try #require(IPNetwork("100.96.0.0/11"))
        #expect(v4.contains(IPAddress("100.127.255.255")!))
        #expect(!v4.contains(IPAddress("100.128.0.0")!))
    }

    @Test(arguments: [
        ("100.96.0.0/11", "100.64.0.0/13", false),
        ("100.64.0.0/10", "100.64.0.0/13", true),
        ("100.64.0.0/13", "100.64.0.0/10", true),
        ("10.0.0.0/8", "10.0.0.0/8", true),
        ("10.0.0.0/8", "11.0.0.0/8", false),
        ("0.0.0.0/0", "192.168.0.0/16", true),
        ("fd00:10:1::/56", "fd00:10:1:ff::/64", true),
        ("fd00:10:1::/56", "fd00:10:2::/56", false),
        ("10.0.0.0/8", "::/0", false),
    ])
    func overlaps(a: String, b: String, expected: Bool) throws {
        let x = try #require(IPNetwork(a))
        let y = try #require(IPNetwork(b))
        #expect(x.overlaps(y) == expected)
        #expect(y.overlaps(x) == expected)
    }
}
