import HAVPNControl
import HAVPNModel
import PropertyBased
import Testing

private func hex(_ b: [UInt8]) -> String {
    b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

private func bytes(hex s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// The announcement codec's HMAC, now swift-crypto's: the RFC vectors pin that the wrapper passes key and
/// message through unchanged, so announcements from older havpn builds still verify.
@Suite struct HMACSHA256Tests {
    /// RFC 4231 test cases 1-4, 6, 7 (case 5 is a truncated output and covered by its prefix).
    @Test(arguments: [
        (
            "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            String(repeating: "aa", count: 20), String(repeating: "dd", count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            "0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (
            String(repeating: "aa", count: 131),
            "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            String(repeating: "aa", count: 131),
            "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ])
    func rfc4231(key: String, data: String, mac: String) {
        let tag = HMACSHA256.authenticationCode(for: bytes(hex: data), key: bytes(hex: key))
        #expect(hex(tag) == mac)
        #expect(HMACSHA256.isValid(authenticationCode: tag, for: bytes(hex: data), key: bytes(hex: key)))
    }

    @Test func rfc4231Case5Truncated() {
        let tag = HMACSHA256.authenticationCode(
            for: bytes(hex: "546573742057697468205472756e636174696f6e"),
            key: [UInt8](repeating: 0x0c, count: 20)
        )
        #expect(hex(Array(tag.prefix(16))) == "a3b6167473100ee06e0c796c2955552b")
    }

    @Test func anyFlippedBitIsInvalid() async {
        let key = Array("k".utf8)
        await propertyCheck(input: Gen.uint8().array(of: 0...40), Gen.int(in: 0..<256)) { msg, bit in
            var tag = HMACSHA256.authenticationCode(for: msg, key: key)
            tag[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(!HMACSHA256.isValid(authenticationCode: tag, for: msg, key: key))
            #expect(!HMACSHA256.isValid(authenticationCode: tag.dropLast(), for: msg, key: key))
        }
    }
}

/// The wire format did not change with the HMAC's implementation: a signed announcement's bytes, computed
/// independently (Python's hmac module over the documented layout), are what the codec writes and accepts.
@Suite struct SignedAnnouncementWireTests {
    private let golden =
        "48415650010101000000000000002a0000ea60fd8f6d53b97a000100000000000a000702040a01000506fd0000200000000000"
        + "0000000000000595bf668795f1ff5142c4e5991f19c5b3b33edebbb70e962204cc400452fc5b93"

    private var message: HAVPNAnnouncement {
        HAVPNAnnouncement(
            kind: .announce,
            sequence: 42,
            lifetimeMilliseconds: 60_000,
            bondAddress: IPv6Address("fd8f:6d53:b97a:1::a:7")!,
            podIPs: [IPAddress("10.1.0.5")!, IPAddress("fd00:20::5")!]
        )
    }

    @Test func encodesTheKnownBytes() {
        #expect(hex(AnnouncementCodec.encode(message, key: Array("shared-secret".utf8))) == golden)
    }

    @Test func acceptsTheKnownBytesOnlyWithTheRightKey() {
        let bytes = bytes(hex: golden)
        #expect(
            AnnouncementCodec.decode(bytes, key: Array("shared-secret".utf8))
                == .success(.havpn(message, authenticated: true))
        )
        #expect(AnnouncementCodec.decode(bytes, key: Array("shared-secreT".utf8)) == .failure(.authFailed))
    }
}
