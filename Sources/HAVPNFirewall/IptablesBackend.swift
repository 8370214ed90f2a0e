internal import CXtables
import Glibc
import HAVPNModel
import HAVPNPlanner

/// havpn's ruleset as `HAVPN-` chains in iptables-legacy (IPv4 and IPv6), each jumped to from its
/// built-in chain, as kube-proxy and Calico own theirs. One `iptables-legacy-restore --noflush`
/// per family loads every table at once (a table is committed atomically); declaring a chain
/// flushes only that chain, so foreign chains and rules survive. The jump is checked on every
/// observation and re-inserted at the top of the built-in chain when missing. The tables are read
/// in-process (`IPT_SO_GET_ENTRIES`, IptablesTableReader.swift); `*-save` only as a fallback.
/// Must be used inside the target namespace (the sockets and children belong to the thread's namespace).
final class IptablesBackend {
    /// Child processes started (restores; saves and probes only as fallbacks): what a pass costs in
    /// user-mode-linux.
    private(set) var childProcesses = 0

    private func spawn(_ tool: String, _ arguments: [String], input: String = "") throws(HAVPNError) -> ChildResult {
        childProcesses += 1
        return try ChildProcess.run(try Self.tool(tool), arguments, input: input)
    }

    enum Family: String, CaseIterable {
        case ipv4, ipv6
        var save: String { self == .ipv4 ? "iptables-legacy-save" : "ip6tables-legacy-save" }
        var restore: String { self == .ipv4 ? "iptables-legacy-restore" : "ip6tables-legacy-restore" }
        var command: String { self == .ipv4 ? "iptables-legacy" : "ip6tables-legacy" }
    }

    /// Where each owned chain lives and where it is jumped to from.
    struct Placement {
        var table: String
        var chain: String
        var builtin: String
    }

    static func placement(_ chain: RulesetChain) -> Placement {
        switch chain {
        case .input: Placement(table: "filter", chain: "HAVPN-INPUT", builtin: "INPUT")
        case .forward: Placement(table: "filter", chain: "HAVPN-FORWARD", builtin: "FORWARD")
        case .mss: Placement(table: "mangle", chain: "HAVPN-MSS", builtin: "FORWARD")
        case .masquerade: Placement(table: "nat", chain: "HAVPN-POSTROUTING", builtin: "POSTROUTING")
        case .netmapPrerouting: Placement(table: "nat", chain: "HAVPN-NETMAP-PRE", builtin: "PREROUTING")
        case .netmapOutput: Placement(table: "nat", chain: "HAVPN-NETMAP-OUT", builtin: "OUTPUT")
        case .netmapPostrouting: Placement(table: "nat", chain: "HAVPN-NETMAP-POST", builtin: "POSTROUTING")
        }
    }

    static let jumpComment = "havpn:jump"

    /// What `*-save` shows of havpn's chains in one family.
    struct Snapshot: Equatable {
        /// Rule ids per owned chain that exists (jumped to or not).
        var chains: [RulesetChain: [String]] = [:]
        /// The save lines (`-A BUILTIN …-j HAVPN-…`, or `-g`) of the jumps to each owned chain from its
        /// built-in chain: havpn's, however they look, so extra ones are removed.
        var jumps: [RulesetChain: [String]] = [:]
        /// The chains of other rules that jump or go to an owned chain (a foreign chain, another built-in
        /// chain). havpn does not change them, and while they exist the owned chain cannot be deleted.
        var references: [RulesetChain: [String]] = [:]
    }

    /// Whether a jump's save line is a goto (`-g`): it does not return to the built-in chain, so the
    /// rules after it there would be skipped. Never havpn's jump, even when it is the only one.
    static func isGoto(_ saveLine: String) -> Bool {
        // The target is the last `-j` or `-g`: iptables-save prints it after every match (a comment's words
        // come before it).
        saveLine.split(separator: " ").last { $0 == "-j" || $0 == "-g" } == "-g"
    }

    /// Whether `jumps` (from the built-in chain) are exactly havpn's one jump: a single one, not a goto.
    static func isHavpnsJump(_ jumps: [String]) -> Bool { jumps.count == 1 && !isGoto(jumps[0]) }

    static func tool(_ name: String) throws(HAVPNError) -> String {
        for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] where access("\(dir)/\(name)", X_OK) == 0 {
            return "\(dir)/\(name)"
        }
        throw HAVPNError(.missingKernelFeature, "\(name) is not installed (Debian package iptables)", object: name)
    }

    /// Both families answer for the filter table, and the save and restore tools are installed.
    /// Asked in-process where the kernel already has ip_tables/ip6_tables: the `iptables -S` child
    /// this needs otherwise (its modprobe loads them) costs 30–60 ms in user-mode-linux, at every `plan`.
    func probe() throws(HAVPNError) {
        for family in Family.allCases {
            _ = try Self.tool(family.save)
            _ = try Self.tool(family.restore)
            if case .success = Self.tableInfo(family, "filter") { continue }
            let result = try spawn(family.command, ["-w", "-t", "filter", "-S", "INPUT"])
            guard result.status == 0 else {
                throw HAVPNError(
                    .missingKernelFeature,
                    "\(family.command) cannot use the filter table: \(firstLine(result))",
                    object: family.command
                )
            }
        }
    }

    /// The errno of a table reading.
    struct TableInfoError: Error { var code: Int32 }

    /// One table's entry count, size and hook count, or the errno of the reading.
    static func tableInfo(
        _ family: Family,
        _ table: String
    ) -> Result<(entries: UInt32, size: UInt32, hooks: UInt32), TableInfoError> {
        var entries: UInt32 = 0
        var size: UInt32 = 0
        var hooks: UInt32 = 0
        let rc = havpn_xt_table_info(family == .ipv4 ? AF_INET : AF_INET6, table, &entries, &size, &hooks)
        return rc == 0 ? .success((entries, size, hooks)) : .failure(TableInfoError(code: -rc))
    }

    /// The tables havpn's chains live in.
    static let tables = ["filter", "mangle", "nat"]

    /// Whether every table of `family` holds only its built-in chains' policies (one entry per hook
    /// and the final error entry: any rule or user chain adds entries), or does not exist (ENOENT;
    /// ENOPROTOOPT: ip_tables itself is not loaded), so there is nothing of havpn's to read and
    /// `*-save` need not run. A table that cannot be read otherwise (EPERM) is not pristine.
    static func isPristine(_ family: Family) -> Bool {
        tables.allSatisfy { table in
            switch tableInfo(family, table) {
            case .success(let info): info.entries == info.hooks + 1
            case .failure(let error): error.code == ENOENT || error.code == ENOPROTOOPT
            }
        }
    }

    /// havpn's chains in `family`, read fresh each time: in-process (two getsockopt calls per
    /// table, so a same-size edit such as DROP swapped for ACCEPT is seen at once), or through
    /// `*-save` when that reading cannot be used (see ``readSnapshot(_:targets:)``).
    func snapshot(_ family: Family, expecting desired: Ruleset? = nil) throws(HAVPNError) -> Snapshot {
        let targets = Self.targets(desired)
        if let snapshot = Self.readSnapshot(family, targets: targets) { return snapshot }
        // Not readable in-process, but holding no rule and no user chain anywhere: nothing to read.
        if Self.isPristine(family) { return Snapshot() }
        let result = try spawn(family.save, [])
        guard result.status == 0 else {
            throw HAVPNError(.kernel, "\(family.save) failed: \(firstLine(result))", object: family.save)
        }
        return Self.parse(result.output, targets: targets)
    }

    /// The `-j` target each desired rule id must have: an edit that keeps a rule's comment but
    /// swaps its target (DROP for ACCEPT) is drift too.
    static func targets(_ desired: Ruleset?) -> [String: String] {
        var out: [String: String] = [:]
        for rule in desired?.rules ?? [] { out[rule.id] = target(rule.verdict) }
        return out
    }

    static func target(_ verdict: RuleVerdict) -> String {
        switch verdict {
        case .accept: "ACCEPT"
        case .drop: "DROP"
        case .masquerade: "MASQUERADE"
        case .clampMSSToPMTU: "TCPMSS"
        case .netmap: "NETMAP"
        }
    }

    /// Rule ids per chain, for the planner. A chain counts only when it is jumped to, and only
    /// when both families hold exactly the rules of `desired` that apply to them; otherwise what
    /// the kernel holds is reported as it is (differing from desired, so it is drift). A chain
    /// that a family should not have at all is drift however it is left: with rules, empty
    /// ("empty chain"), jumped to or not, since `apply` prunes it (``holds(_:family:in:)``).
    func observe(expecting desired: Ruleset?) throws(HAVPNError) -> ObservedRuleset {
        let snapshots = (ipv4: try snapshot(.ipv4, expecting: desired), ipv6: try snapshot(.ipv6, expecting: desired))
        var chains: [RulesetChain: [String]] = [:]
        for chain in RulesetChain.allCases {
            let rules = desired?.rules(in: chain) ?? []
            let want4 = rules.filter { Self.applies($0, to: .ipv4) }.map(\.id)
            let want6 = rules.filter { Self.applies($0, to: .ipv6) }.map(\.id)
            func have(_ s: Snapshot, wanting want: [String]) -> [String] {
                guard want.isEmpty else { return Self.held(chain, in: s) }
                return s.chains[chain].map { $0.isEmpty ? ["empty chain"] : $0 } ?? []
            }
            let have4 = have(snapshots.ipv4, wanting: want4)
            let have6 = have(snapshots.ipv6, wanting: want6)
            if have4 == want4 && have6 == want6 {
                chains[chain] = rules.map(\.id)
            } else {
                // Marked per family, so that no mix of the two can equal the desired ids.
                chains[chain] = have6.map { "ipv6 " + $0 } + have4.map { "ipv4 " + $0 }
            }
        }
        return ObservedRuleset(chains: chains)
    }

    /// The rule ids of `chain` that count: none unless it is jumped to exactly once (not a goto).
    static func held(_ chain: RulesetChain, in s: Snapshot) -> [String] {
        guard let ids = s.chains[chain], isHavpnsJump(s.jumps[chain] ?? []) else { return [] }
        return ids
    }

    /// A chain that `ruleset` no longer has in `family` but that foreign rules still refer to: its
    /// deletion would fail inside `*-restore` ("line N failed"), so it is refused here, naming them.
    static func checkRemovable(_ ruleset: Ruleset, family: Family, in s: Snapshot) throws(HAVPNError) {
        for chain in RulesetChain.allCases where s.chains[chain] != nil {
            guard !ruleset.rules(in: chain).contains(where: { applies($0, to: family) }),
                let callers = s.references[chain], !callers.isEmpty
            else { continue }
            let place = placement(chain)
            let named = Array(Set(callers)).sorted().joined(separator: ", ")
            let name = family == .ipv4 ? "IPv4" : "IPv6"
            throw HAVPNError(
                .conflict,
                "cannot delete the \(name) chain \(place.chain) (table \(place.table)): rules in \(named) jump to it, "
                    + "and havpn does not change rules it does not own; delete them, or keep havpn's rules in that chain",
                object: "\(family.command) -t \(place.table) \(place.chain)"
            )
        }
    }

    /// Whether `family` already holds exactly `ruleset` (and nothing of havpn's chains beyond it).
    static func holds(_ ruleset: Ruleset, family: Family, in s: Snapshot) -> Bool {
        RulesetChain.allCases.allSatisfy { chain in
            let want = ruleset.rules(in: chain).filter { applies($0, to: family) }.map(\.id)
            if want.isEmpty { return s.chains[chain] == nil && (s.jumps[chain] ?? []).isEmpty }
            return held(chain, in: s) == want
        }
    }

    /// One `*-restore --noflush` per family that does not hold `ruleset` already. Both families are
    /// read and checked before either is written, so a refused prune changes nothing.
    func apply(_ ruleset: Ruleset) throws(HAVPNError) {
        var pending: [(Family, Snapshot)] = []
        for family in Family.allCases {
            let current = try snapshot(family, expecting: ruleset)
            if Self.holds(ruleset, family: family, in: current) { continue }
            try Self.checkRemovable(ruleset, family: family, in: current)
            pending.append((family, current))
        }
        for (family, current) in pending {
            let document = Self.restoreDocument(ruleset, family: family, current: current)
            let result = try spawn(family.restore, ["-w", "--noflush"], input: document)
            guard result.status == 0 else {
                throw HAVPNError(
                    .kernel,
                    "\(family.restore) refused havpn's chains: \(firstLine(result))",
                    object: family.restore
                )
            }
        }
    }

    /// Entry count and size of every table havpn uses, both families: changes when a rule or chain
    /// is added or removed anywhere in them (havpn's or not), without spawning a process. An edit
    /// that keeps both (one rule swapped for one of the same size) is left to the periodic resync.
    func changeFingerprint() -> String {
        Family.allCases.map { Self.fingerprint($0) }.joined(separator: ", ")
    }

    /// ``changeFingerprint()`` of one family.
    static func fingerprint(_ family: Family) -> String {
        tables.map { table in
            switch tableInfo(family, table) {
            case .success(let info): "\(family) \(table) \(info.entries)/\(info.size)"
            case .failure(let error): "\(family) \(table) errno \(error.code)"
            }
        }.joined(separator: ", ")
    }

    private func firstLine(_ result: ChildResult) -> String {
        let text = result.errorOutput.isEmpty ? result.output : result.errorOutput
        return text.split(separator: "\n").first.map(String.init) ?? "exit status \(result.status)"
    }

    // MARK: - Text (pure)

    /// ICMPv6 and the ip6tnl transport exist in IPv6 only; a rule with addresses in their family only.
    static func applies(_ rule: FirewallRule, to family: Family) -> Bool {
        if let own = rule.addressFamily { return (own == .ipv4) == (family == .ipv4) }
        return switch rule.match {
        case .icmpv6, .tunnelTransportIPv4, .tunnelTransportIPv6: family == .ipv6
        case .any, .establishedOrRelated, .tcpSyn: true
        }
    }

    /// One `--noflush` document for all of havpn's tables in `family`: each declared chain is
    /// flushed and refilled, a missing jump is inserted at the top of its built-in chain (extra
    /// jumps are removed first), and a chain no longer desired loses its jumps and is deleted.
    static func restoreDocument(_ ruleset: Ruleset, family: Family, current: Snapshot) -> String {
        var byTable: [String: [String]] = [:]
        var tableOrder: [String] = []
        // Deletions go last in their table: a chain can only go once nothing jumps to it, and a foreign
        // rule in another owned chain that does is flushed with that chain, which may come later.
        var deletions: [String: [String]] = [:]
        func emit(_ table: String, _ line: String) {
            if byTable[table] == nil { tableOrder.append(table) }
            byTable[table, default: []].append(line)
        }
        for chain in RulesetChain.allCases {
            let place = placement(chain)
            let rules = ruleset.rules(in: chain).filter { applies($0, to: family) }
            let exists = current.chains[chain] != nil
            let jumps = current.jumps[chain] ?? []
            guard !rules.isEmpty || exists || !jumps.isEmpty else { continue }
            if !rules.isEmpty || exists { emit(place.table, ":\(place.chain) - [0:0]") }
            let keepJump = !rules.isEmpty && isHavpnsJump(jumps)
            if !keepJump {
                for jump in jumps { emit(place.table, "-D" + jump.dropFirst(2)) }
            }
            if rules.isEmpty {
                if exists { deletions[place.table, default: []].append("-X \(place.chain)") }
                continue
            }
            for rule in rules { emit(place.table, "-A \(place.chain) " + render(rule)) }
            if !keepJump {
                emit(place.table, "-I \(place.builtin) 1 -m comment --comment \(jumpComment) -j \(place.chain)")
            }
        }
        var lines: [String] = []
        for table in tableOrder {
            lines.append("*\(table)")
            lines += byTable[table]!
            lines += deletions[table] ?? []
            lines.append("COMMIT")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func render(_ rule: FirewallRule) -> String {
        var parts: [String] = []
        if let i = rule.interface {
            parts.append("\(i.direction == .incoming ? "-i" : "-o") \(i.name)\(i.isPrefix ? "+" : "")")
        }
        switch rule.match {
        case .any: break
        case .establishedOrRelated: parts.append("-m conntrack --ctstate RELATED,ESTABLISHED")
        case .icmpv6: parts.append("-p ipv6-icmp")
        case .tunnelTransportIPv4: parts.append("-p 4")
        case .tunnelTransportIPv6: parts.append("-p 41")
        case .tcpSyn: parts.append("-p tcp -m tcp --tcp-flags SYN,RST SYN")
        }
        if let source = rule.source { parts.append("-s \(source)") }
        if let destination = rule.destination { parts.append("-d \(destination)") }
        if let group = rule.socketGroup { parts.append("-m owner --gid-owner \(group)") }
        parts.append("-m comment --comment \(rule.id)")
        parts.append("-j \(target(rule.verdict))")
        if rule.verdict == .clampMSSToPMTU { parts.append("--clamp-mss-to-pmtu") }
        if rule.verdict == .netmap, let to = rule.netmapTo { parts.append("--to \(to)") }
        return parts.joined(separator: " ")
    }

    /// havpn's chains and jumps in `*-save` output.
    static func parse(_ save: String, targets: [String: String] = [:]) -> Snapshot {
        var snapshot = Snapshot()
        var table = ""
        let byName = Dictionary(uniqueKeysWithValues: RulesetChain.allCases.map { (placement($0).chain, $0) })
        for raw in save.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix("*") { table = String(line.dropFirst()); continue }
            if line.hasPrefix(":") {
                let name = String(line.dropFirst().prefix { $0 != " " })
                if let chain = byName[name], placement(chain).table == table, snapshot.chains[chain] == nil {
                    snapshot.chains[chain] = []
                }
                continue
            }
            guard line.hasPrefix("-A ") else { continue }
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 2 else { continue }
            if let chain = byName[words[1]], placement(chain).table == table {
                var id = comment(in: words) ?? "unowned-rule"
                if let want = targets[id], let j = words.lastIndex(of: "-j"), j + 1 < words.count, words[j + 1] != want
                {
                    id = "edited " + id
                }
                snapshot.chains[chain, default: []].append(id)
            } else if let j = words.lastIndex(where: { $0 == "-j" || $0 == "-g" }), j + 1 < words.count,
                let target = byName[words[j + 1]], placement(target).table == table
            {
                if placement(target).builtin == words[1] {
                    snapshot.jumps[target, default: []].append(line)
                } else {
                    snapshot.references[target, default: []].append(words[1])
                }
            }
        }
        return snapshot
    }

    static func comment(in words: [String]) -> String? {
        guard let c = words.firstIndex(of: "--comment"), c + 1 < words.count else { return nil }
        var text = words[c + 1]
        if text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 {
            text = String(text.dropFirst().dropLast())
        }
        return text.hasPrefix("havpn:") ? text : nil
    }
}
