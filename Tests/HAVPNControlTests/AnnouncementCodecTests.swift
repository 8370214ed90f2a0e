import HAVPNControl
import HAVPNModel
import PropertyBased
import Testing

let bondA = IPv6Address("fd8f:6d53:b97a:1::a:7")!
let key = Array("shared-secret".utf8)

private let ipGen = Gen.uint8().array(of: 16).map { b -> IPAddress in
    b[0] % 2 == 0 ? .v4(IPv4Address(bytes: Array(b[0..<4]))) : .v6(IPv6Address(bytes: b))
}

private let messageGen = zip(
    Gen.bool(),
    Gen.uint64(),
    Gen.uint32(),
    Gen.uint8().array(of: 16),
    ipGen.array(of: 1...8)
).map { w, seq, life, bond, ips in
    HAVPNAnnouncement(
        kind: w ? .withdraw : .announce,
        sequence: seq,
        lifetimeMilliseconds: life,
        bondAddress: IPv6Address(bytes: bond),
        podIPs: ips
    )
}

@Suite struct AnnouncementCodecTests {
    @Test func roundTrip() async {
        await propertyCheck(input: messageGen, Gen.bool()) { m, signed in
            let k: [UInt8]? = signed ? key : nil
            let bytes = AnnouncementCodec.encode(m, key: k)
            #expect(AnnouncementCodec.decode(bytes, key: k) == .success(.havpn(m, authenticated: signed)))
            // Without a key, a tag is accepted unverified; with one, an untagged message is refused.
            #expect(AnnouncementCodec.decode(bytes, key: nil) == .success(.havpn(m, authenticated: false)))
            if !signed { #expect(AnnouncementCodec.decode(bytes, key: key) == .failure(.authRequired)) }
        }
    }

    /// Random bytes and mutated valid messages never crash; whatever decodes re-encodes to the same bytes.
    @Test func fuzzDecodeIsTotalAndConsistent() async {
        let valid = AnnouncementCodec.encode(
            HAVPNAnnouncement(
                kind: .announce,
                sequence: 9,
                lifetimeMilliseconds: 1,
                bondAddress: bondA,
                podIPs: [IPAddress("10.0.0.1")!, IPAddress("fd00::1")!]
            )
        )
        let mutated = zip(Gen.int(in: 0..<valid.count), Gen.uint8(), Gen.int(in: 0...valid.count + 3))
            .map { i, v, len -> [UInt8] in
                var b = valid
                b[i] = v
                return len <= b.count ? Array(b.prefix(len)) : b + [UInt8](repeating: v, count: len - b.count)
            }
        let havpnPrefixed = Gen.uint8().array(of: 0...80).map { Array("HAVP".utf8) + [1] + $0 }
        @Sendable func check(_ bytes: [UInt8]) {
            switch AnnouncementCodec.decode(bytes) {
            case .success(.havpn(let m, _)):
                #expect(AnnouncementCodec.encode(m) == bytes)
            case .success(.vpn2(let ip)):
                #expect(IPAddress(String(decoding: bytes, as: UTF8.self)) == ip)
            case .failure:
                break
            }
            // With a key nothing random is accepted.
            #expect((try? AnnouncementCodec.decode(bytes, key: key).get()) == nil)
        }
        await propertyCheck(count: 300, input: mutated) { check($0) }
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...80)) { check($0) }
        await propertyCheck(count: 300, input: havpnPrefixed) { check($0) }
    }

    @Test func tamperedSignedMessageFailsAuth() async {
        await propertyCheck(input: messageGen, Gen.int(in: 0..<10_000)) { m, pos in
            var b = AnnouncementCodec.encode(m, key: key)
            let i = 7 + pos % (b.count - 7)  // anywhere after the flags byte
            b[i] ^= 0x01
            let r = AnnouncementCodec.decode(b, key: key)
            #expect(r != .success(.havpn(m, authenticated: true)))
            if i < 35 { #expect(r == .failure(.authFailed)) }
        }
    }

    /// vpn2 routes an IPv4-mapped pod IP as the IPv4 address (/32); so does havpn, in both formats.
    @Test func ipv4MappedPodIPsAreIPv4() {
        let ipv4 = IPAddress("10.0.0.9")!
        #expect(AnnouncementCodec.decode(Array("::ffff:10.0.0.9".utf8)) == .success(.vpn2(podIP: ipv4)))
        #expect(AnnouncementCodec.decode(Array("::ffff:a00:9".utf8)) == .success(.vpn2(podIP: ipv4)))
        let mapped = HAVPNAnnouncement(
            kind: .announce,
            sequence: 1,
            lifetimeMilliseconds: 0,
            bondAddress: bondA,
            podIPs: [IPAddress("::ffff:10.0.0.9")!]
        )
        var expected = mapped
        expected.podIPs = [ipv4]
        #expect(
            AnnouncementCodec.decode(AnnouncementCodec.encode(mapped))
                == .success(.havpn(expected, authenticated: false))
        )
        // Only the ::ffff:0:0/96 block is mapped; other IPv6 addresses stay as they are.
        #expect(AnnouncementCodec.decode(Array("::10.0.0.9".utf8)) == .success(.vpn2(podIP: IPAddress("::a00:9")!)))
        #expect(IPAddress("fd00::ffff:a00:9")!.unmapped == IPAddress("fd00::ffff:a00:9")!)
    }

    @Test func vpn2Format() {
        #expect(AnnouncementCodec.decode(Array("10.0.0.5".utf8)) == .success(.vpn2(podIP: IPAddress("10.0.0.5")!)))
        #expect(AnnouncementCodec.decode(Array("fd00::1:2".utf8)) == .success(.vpn2(podIP: IPAddress("fd00::1:2")!)))
        #expect(AnnouncementCodec.encodeVPN2(podIP: IPAddress("241.0.0.9")!) == Array("241.0.0.9".utf8))
        #expect(AnnouncementCodec.decode(Array("10.0.0.5".utf8), key: key) == .failure(.authRequired))
        for bad in ["", "10.0.0.256", "10.0.0.5\n", "fe80::1%eth0", "hello", "010.0.0.1"] {
            let expected: AnnouncementRejection = bad.isEmpty ? .tooShort : .badAddress
            #expect(AnnouncementCodec.decode(Array(bad.utf8)) == .failure(expected), "\(bad)")
        }
    }

    @Test func everyRejectionReason() {
        let m = HAVPNAnnouncement(
            kind: .announce,
            sequence: 1,
            lifetimeMilliseconds: 5,
            bondAddress: bondA,
            podIPs: [IPAddress("10.1.2.3")!]
        )
        let ok = AnnouncementCodec.encode(m)
        func with(_ i: Int, _ v: UInt8) -> [UInt8] { var b = ok; b[i] = v; return b }
        let cases: [([UInt8], [UInt8]?, AnnouncementRejection)] = [
            (Array("HAVP".utf8), nil, .tooShort),
            (Array("HAVQ".utf8) + [1], nil, .badMagic),
            (with(4, 2), nil, .unsupportedVersion),
            (Array(ok.prefix(35)), nil, .truncated),
            (with(5, 3), nil, .badType),
            (with(6, 0x02), nil, .badFlags),
            (with(35, 9), nil, .tooManyAddresses),
            (with(35, 0), nil, .noPodIPs),
            (with(35, 2), nil, .truncated),
            (with(36, 5), nil, .badAddress),
            (ok + [0], nil, .trailingBytes),
            (ok, key, .authRequired),
            (AnnouncementCodec.encode(m, key: Array("other".utf8)), key, .authFailed),
            (Array(AnnouncementCodec.encode(m, key: key).dropLast()), key, .truncated),
        ]
        for (bytes, k, reason) in cases {
            #expect(AnnouncementCodec.decode(bytes, key: k) == .failure(reason), "\(reason)")
        }
        let w = HAVPNAnnouncement(kind: .withdraw, sequence: 2, lifetimeMilliseconds: 0, bondAddress: bondA, podIPs: [])
        #expect(AnnouncementCodec.decode(AnnouncementCodec.encode(w)) == .success(.havpn(w, authenticated: false)))
        #expect(ok.count == AnnouncementCodec.headerSize + 5)
    }
}
