import HAVPNControl
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

@Suite struct SHA256Tests {
    /// FIPS 180-4 / NIST CAVP example vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ])
    func fipsVectors(message: String, digest: String) {
        #expect(hex(SHA256.hash(Array(message.utf8))) == digest)
    }

    @Test func millionAs() {
        var s = SHA256()
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { s.update(chunk) }
        #expect(hex(s.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Block-boundary lengths 55, 56, 63, 64, 65 exercise the padding: digests must all differ.
    @Test func paddingBoundariesDiffer() {
        let ds = [55, 56, 63, 64, 65].map { SHA256.hash([UInt8](repeating: 0x61, count: $0)) }
        #expect(Set(ds.map(hex)).count == 5)
        #expect(hex(SHA256.hash([UInt8](repeating: 0x61, count: 64)))
            == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test func incrementalEqualsOneShot() async {
        await propertyCheck(input: Gen.uint8().array(of: 0...300), Gen.int(in: 0...300)) { data, cut in
            let k = min(cut, data.count)
            var s = SHA256()
            s.update(data[..<k])
            s.update(data[k...])
            #expect(s.finalize() == SHA256.hash(data))
        }
    }
}

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
            for: bytes(hex: "546573742057697468205472756e636174696f6e"), key: [UInt8](repeating: 0x0c, count: 20))
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
