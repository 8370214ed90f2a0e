internal import CXtables
import Glibc
import HAVPNPlanner

/// One iptables-legacy table as the kernel holds it, read in-process: the rules as iptables-save
/// would print them, reduced to what havpn's ``IptablesBackend/Snapshot`` needs. Spawning
/// `*-save` costs 30–60 ms per child in user-mode-linux; this is two getsockopt calls per table.
struct XtablesTable: Equatable {
    struct Rule: Equatable {
        /// A built-in chain (PREROUTING … POSTROUTING) or a user chain.
        var chain: String
        /// What iptables-save prints after `-j` or `-g` (a verdict, a chain, an extension target);
        /// "" when it prints neither (a rule without target).
        var target: String
        var isGoto: Bool
        /// The first `comment` match's text.
        var comment: String?
        /// Matches other than that comment.
        var otherMatches: Int
        /// No address, interface, protocol, fragment or TOS condition and no inversion.
        var ipWildcard: Bool
    }

    /// The user chains in the kernel's order.
    var userChains: [String]
    var rules: [Rule]
}

/// Reads and walks iptables-legacy tables through CXtables (bounds-checked C, the kernel's structs).
enum XtablesReader {
    /// A negative errno: EINVAL for a malformed blob.
    struct Failure: Error, Equatable { var code: Int32 }

    /// GET_INFO's hook layout and entry count, which the walk needs to find the chains.
    struct Layout {
        var validHooks: UInt32
        var hookEntry: [UInt32]
        var underflow: [UInt32]
        var entries: UInt32
    }

    static let hooks = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]

    /// `table` of `family` in the calling thread's namespace; nil when it does not exist (ENOENT;
    /// ENOPROTOOPT: ip_tables is not loaded), as iptables-save then prints nothing of it.
    /// `socket`: one from `havpn_xt_socket` to read on, else one of its own.
    static func read(
        _ family: IptablesBackend.Family,
        _ table: String,
        socket: Int32? = nil
    ) -> Result<XtablesTable?, Failure> {
        var info = havpn_xt_info()
        var blob: UnsafeMutablePointer<UInt8>?
        let domain = family == .ipv4 ? AF_INET : AF_INET6
        let rc =
            if let socket { havpn_xt_read_on(socket, domain, table, &info, &blob) } else {
                havpn_xt_read(domain, table, &info, &blob)
            }
        defer { free(blob) }
        if rc == -ENOENT || rc == -ENOPROTOOPT { return .success(nil) }
        guard rc == 0 else { return .failure(Failure(code: rc)) }
        let layout = Layout(
            validHooks: info.valid_hooks,
            hookEntry: withUnsafeBytes(of: info.hook_entry) { Array($0.bindMemory(to: UInt32.self)) },
            underflow: withUnsafeBytes(of: info.underflow) { Array($0.bindMemory(to: UInt32.self)) },
            entries: info.num_entries
        )
        let bytes = UnsafeRawBufferPointer(start: blob, count: Int(info.size))
        return walk(family, bytes, layout).map { Optional($0) }
    }

    /// Walks a blob of entries; a malformed one is a failure, never an out-of-bounds read (the C
    /// walker checks every offset and size). Separate from the reading so tests can feed it bytes.
    static func walk(
        _ family: IptablesBackend.Family,
        _ blob: UnsafeRawBufferPointer,
        _ layout: Layout
    ) -> Result<XtablesTable, Failure> {
        guard layout.hookEntry.count == 5, layout.underflow.count == 5, blob.count <= UInt32.max else {
            return .failure(Failure(code: -EINVAL))
        }
        var info = havpn_xt_info()
        info.valid_hooks = layout.validHooks
        info.num_entries = layout.entries
        info.size = UInt32(blob.count)
        withUnsafeMutableBytes(of: &info.hook_entry) { $0.copyBytes(from: layout.hookEntry.flatMap(bytes)) }
        withUnsafeMutableBytes(of: &info.underflow) { $0.copyBytes(from: layout.underflow.flatMap(bytes)) }
        // One record per entry at most; a corrupt count larger than the blob could hold is refused
        // before allocating for it (an entry takes at least 144 bytes).
        guard Int(layout.entries) <= blob.count / 100 + 1 else { return .failure(Failure(code: -EINVAL)) }
        let capacity = Int(layout.entries)
        var chains = [havpn_xt_chain](repeating: havpn_xt_chain(), count: capacity)
        var rules = [havpn_xt_rule](repeating: havpn_xt_rule(), count: capacity)
        var chainCount: UInt32 = 0
        var ruleCount: UInt32 = 0
        let base = blob.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let rc = havpn_xt_walk(
            family == .ipv4 ? AF_INET : AF_INET6,
            base,
            UInt32(blob.count),
            &info,
            &chains,
            &chainCount,
            &rules,
            &ruleCount
        )
        guard rc == 0 else { return .failure(Failure(code: rc)) }
        func text(_ offset: UInt32, _ length: UInt32) -> String {
            String(decoding: blob[Int(offset)..<Int(offset) + Int(length)], as: UTF8.self)
        }
        let names = chains[..<Int(chainCount)].map { c in
            c.hook >= 0 ? hooks[Int(c.hook)] : text(c.name_offset, c.name_length)
        }
        let userChains = chains[..<Int(chainCount)].indices.filter { chains[$0].hook < 0 }.map { names[$0] }
        let out = rules[..<Int(ruleCount)].map { r in
            XtablesTable.Rule(
                chain: names[Int(r.chain)],
                target: target(r, names: names, text: text),
                isGoto: r.is_goto != 0,
                comment: r.has_comment != 0 ? text(r.comment_offset, r.comment_length) : nil,
                otherMatches: Int(r.other_matches),
                ipWildcard: r.ip_wildcard != 0
            )
        }
        return .success(XtablesTable(userChains: userChains, rules: out))
    }

    private static func bytes(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// The target as iptables-save names it (libiptc's standard_target_map for verdicts).
    private static func target(
        _ r: havpn_xt_rule,
        names: [String],
        text: (UInt32, UInt32) -> String
    ) -> String {
        switch Int(r.kind) {
        case Int(HAVPN_XT_VERDICT):
            switch r.verdict {
            case 0: "DROP"
            case 1: "ACCEPT"
            case 3: "QUEUE"
            default: "RETURN"  // NF_REPEAT, the only other verdict the walker lets through
            }
        case Int(HAVPN_XT_JUMP): names[Int(r.jump_chain)]
        case Int(HAVPN_XT_EXTENSION): text(r.name_offset, r.name_length)
        default: ""
        }
    }
}

extension IptablesBackend {
    /// havpn's chains and jumps in `family`, read in-process: the same ``Snapshot`` that
    /// ``parse(_:targets:)`` makes of `*-save` output. nil when that needs the child after all: a
    /// table could not be read (EPERM, a malformed blob; the child then reports the error), or a
    /// jump to an owned chain is not havpn's plain form, so that only `*-save` can spell it exactly
    /// for its deletion (`restoreDocument`'s `-D`), and a foreign rule is never mistaken.
    static func readSnapshot(_ family: Family, targets: [String: String]) -> Snapshot? {
        let socket = havpn_xt_socket(family == .ipv4 ? AF_INET : AF_INET6)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var tables: [(String, XtablesTable)] = []
        for table in Self.tables {
            switch XtablesReader.read(family, table, socket: socket) {
            case .success(let read?): tables.append((table, read))
            case .success(nil): continue
            case .failure: return nil
            }
        }
        return snapshot(of: tables, targets: targets)
    }

    /// What ``parse(_:targets:)`` finds, from walked tables: rule ids per owned chain that exists
    /// (from the comment, "unowned-rule" without one, "edited" when the `-j` target differs from
    /// the desired one) and the save lines of jumps from its built-in chain. nil for a jump that
    /// cannot be rendered exactly.
    static func snapshot(of tables: [(String, XtablesTable)], targets: [String: String]) -> Snapshot? {
        var snapshot = Snapshot()
        let byName = Dictionary(uniqueKeysWithValues: RulesetChain.allCases.map { (placement($0).chain, $0) })
        for (table, content) in tables {
            for name in content.userChains {
                if let chain = byName[name], placement(chain).table == table, snapshot.chains[chain] == nil {
                    snapshot.chains[chain] = []
                }
            }
            for rule in content.rules {
                if let chain = byName[rule.chain], placement(chain).table == table {
                    var id = rule.comment.flatMap(savedComment) ?? "unowned-rule"
                    if let want = targets[id], !rule.isGoto, !rule.target.isEmpty, rule.target != want {
                        id = "edited " + id
                    }
                    snapshot.chains[chain, default: []].append(id)
                } else if let target = byName[rule.target], placement(target).table == table {
                    if placement(target).builtin == rule.chain {
                        // A goto is not havpn's form either: `*-save` spells it for its deletion.
                        guard let line = jumpLine(rule) else { return nil }
                        snapshot.jumps[target, default: []].append(line)
                    } else {
                        snapshot.references[target, default: []].append(rule.chain)
                    }
                }
            }
        }
        return snapshot
    }

    /// The save line of a jump of havpn's form (`-m comment --comment TEXT -j HAVPN-…`, nothing
    /// else), or nil for any other jump (addresses, interfaces, more matches, an unusual comment).
    static func jumpLine(_ rule: XtablesTable.Rule) -> String? {
        guard rule.ipWildcard, rule.otherMatches == 0, !rule.isGoto, let text = rule.comment, !text.isEmpty,
            text.utf8.allSatisfy({ isSafe($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
        else { return nil }
        return "-A \(rule.chain) -m comment --comment \(savedForm(text)) -j \(rule.target)"
    }

    /// Letters, digits, `_` and `-`: what iptables-save prints without quotes (xtables_save_string).
    private static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// A string argument as iptables-save prints it: bare when every byte is safe, else quoted
    /// with `"`, `\` and `'` escaped.
    static func savedForm(_ text: String) -> String {
        if !text.isEmpty && text.utf8.allSatisfy(isSafe) { return text }
        var out = "\""
        for c in text {
            if c == "\"" || c == "\\" || c == "'" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// The id ``comment(in:)`` reads from the comment's saved form, so both readings name a rule
    /// alike (a havpn id never holds a quote or space; a foreign one may).
    static func savedComment(_ text: String) -> String? {
        comment(in: ["--comment"] + savedForm(text).split(separator: " ").map(String.init))
    }
}
