import CXtables
import Glibc
import Testing

@testable import HAVPNFirewall

/// The C walker of iptables-legacy table blobs, fed hand-built IPv4 blobs (no kernel needed): it
/// reads a well-formed table as iptables-save would, and refuses a malformed one with an error
/// instead of reading out of bounds.
struct XtablesWalkTests {
    /// IPv4 entries as the kernel lays them out: `struct ipt_entry` is 112 bytes with
    /// target_offset at 88 and next_offset at 90; an `xt_entry_target` header is 32 bytes (size,
    /// 29-byte name, revision); a standard target adds an int verdict (40 bytes aligned), an error
    /// target a 30-byte name (64 aligned).
    static func entry(_ target: [UInt8], matches: [UInt8] = []) -> [UInt8] {
        var e = [UInt8](repeating: 0, count: 112) + matches + target
        put(UInt16(112 + matches.count), into: &e, at: 88)
        put(UInt16(e.count), into: &e, at: 90)
        return e
    }

    static func put<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
    }

    static func header(size: Int, name: String) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 32)
        put(UInt16(size), into: &h, at: 0)
        h.replaceSubrange(2..<2 + name.utf8.count, with: Array(name.utf8))
        return h
    }

    static func standard(_ verdict: Int32) -> [UInt8] {
        var t = header(size: 40, name: "") + [UInt8](repeating: 0, count: 8)
        put(verdict, into: &t, at: 32)
        return t
    }

    static func error(_ name: String) -> [UInt8] {
        var t = header(size: 64, name: "ERROR") + [UInt8](repeating: 0, count: 32)
        t.replaceSubrange(32..<32 + name.utf8.count, with: Array(name.utf8))
        return t
    }

    static func comment(_ text: String) -> [UInt8] {
        var m = header(size: 32 + 256, name: "comment") + [UInt8](repeating: 0, count: 256)
        m.replaceSubrange(32..<32 + text.utf8.count, with: Array(text.utf8))
        return m
    }

    /// INPUT: a commented jump to USER, policy ACCEPT; USER: DROP, tail RETURN; the final ERROR.
    static let offsets = (jump: 0, policy: 440, head: 592, drop: 768, tail: 920, final: 1072)
    static let table: [UInt8] =
        entry(standard(Int32(offsets.drop)), matches: comment("havpn:jump"))
        + entry(standard(-2))  // ACCEPT: -NF_ACCEPT - 1
        + entry(error("USER")) + entry(standard(-1))  // DROP
        + entry(standard(-5))  // RETURN: -NF_REPEAT - 1
        + entry(error("ERROR"))
    static let layout = XtablesReader.Layout(
        validHooks: 1 << 1,
        hookEntry: [0, UInt32(offsets.jump), 0, 0, 0],
        underflow: [0, UInt32(offsets.policy), 0, 0, 0],
        entries: 6
    )

    func walk(_ blob: [UInt8], _ layout: XtablesReader.Layout = Self.layout) -> Result<
        XtablesTable, XtablesReader.Failure
    > {
        blob.withUnsafeBytes { XtablesReader.walk(.ipv4, $0, layout) }
    }

    @Test func aWellFormedTableReadsAsIptablesSaveWouldPrintIt() throws {
        #expect(Self.table.count == Self.offsets.final + 176)
        let table = try walk(Self.table).get()
        #expect(table.userChains == ["USER"])
        #expect(
            table.rules == [
                .init(
                    chain: "INPUT",
                    target: "USER",
                    isGoto: false,
                    comment: "havpn:jump",
                    otherMatches: 0,
                    ipWildcard: true
                ),
                .init(chain: "USER", target: "DROP", isGoto: false, comment: nil, otherMatches: 0, ipWildcard: true),
            ]
        )
    }

    @Test func everyTruncationIsAnError() {
        for length in 0..<Self.table.count {
            #expect(throws: XtablesReader.Failure(code: -22), "\(length) bytes") {
                try walk(Array(Self.table[..<length])).get()
            }
        }
    }

    @Test func aZeroNextOffsetIsAnError() {
        var blob = Self.table
        Self.put(UInt16(0), into: &blob, at: Self.offsets.drop + 90)
        #expect(throws: XtablesReader.Failure(code: -22)) { try walk(blob).get() }
    }

    @Test func aJumpToNoChainIsAnError() {
        for target in [Int32(Self.table.count), 100_000, Int32.max] {
            var blob = Self.table
            Self.put(target, into: &blob, at: Self.offsets.jump + 112 + 288 + 32)
            #expect(throws: XtablesReader.Failure(code: -22), "verdict \(target)") { try walk(blob).get() }
        }
    }

    @Test func aTargetPastItsEntryIsAnError() {
        var blob = Self.table
        Self.put(UInt16(500), into: &blob, at: Self.offsets.jump + 88)
        #expect(throws: XtablesReader.Failure(code: -22)) { try walk(blob).get() }
        blob = Self.table
        Self.put(UInt16(4000), into: &blob, at: Self.offsets.drop + 112)  // the target's own size
        #expect(throws: XtablesReader.Failure(code: -22)) { try walk(blob).get() }
    }

    @Test func aWrongEntryCountOrUnknownVerdictIsAnError() {
        for entries: UInt32 in [5, 7, 1_000_000] {
            var layout = Self.layout
            layout.entries = entries
            #expect(throws: XtablesReader.Failure(code: -22), "\(entries) entries") {
                try walk(Self.table, layout).get()
            }
        }
        var blob = Self.table
        Self.put(Int32(-6), into: &blob, at: Self.offsets.drop + 112 + 32)  // NF_STOP: iptables-save has no name
        #expect(throws: XtablesReader.Failure(code: -22)) { try walk(blob).get() }
    }

    /// Random corruption: any result but a crash (the walker checks every offset it follows).
    @Test func corruptedBlobsNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            var blob = Self.table
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                blob[Int.random(in: 0..<blob.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            _ = walk(blob)
        }
    }
}

extension XtablesWalkTests {
    /// The C walker itself, without the Swift wrapper's entry-count guard (which refuses short
    /// blobs first): every truncation of the table, with room for every record, is an error.
    @Test func theCWalkerRefusesEveryTruncationItself() {
        var info = havpn_xt_info()
        info.valid_hooks = Self.layout.validHooks
        info.num_entries = Self.layout.entries
        withUnsafeMutableBytes(of: &info.hook_entry) { raw in
            for (i, v) in Self.layout.hookEntry.enumerated() {
                raw.storeBytes(of: v, toByteOffset: 4 * i, as: UInt32.self)
            }
        }
        withUnsafeMutableBytes(of: &info.underflow) { raw in
            for (i, v) in Self.layout.underflow.enumerated() {
                raw.storeBytes(of: v, toByteOffset: 4 * i, as: UInt32.self)
            }
        }
        for length in 0...Self.table.count {
            info.size = UInt32(length)
            var chains = [havpn_xt_chain](repeating: havpn_xt_chain(), count: 6)
            var rules = [havpn_xt_rule](repeating: havpn_xt_rule(), count: 6)
            var chainCount: UInt32 = 0
            var ruleCount: UInt32 = 0
            let rc = Array(Self.table[..<length]).withUnsafeBufferPointer { blob in
                havpn_xt_walk(
                    AF_INET,
                    blob.baseAddress,
                    UInt32(length),
                    &info,
                    &chains,
                    &chainCount,
                    &rules,
                    &ruleCount
                )
            }
            if length == Self.table.count {
                #expect(rc == 0 && ruleCount == 2, "the whole table walks")
            } else {
                #expect(rc == -EINVAL, "\(length) bytes")
            }
        }
    }
}
