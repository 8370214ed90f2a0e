internal import CNftables
import Glibc
import HAVPNModel
import HAVPNPlanner

/// havpn's ruleset as the one table `inet havpn`, which havpn owns whole (as kube-proxy owns
/// `ip kube-proxy`): every apply replaces it in one transaction, `add table` + `delete table` +
/// the full table, through libnftables (never one `nft` per rule). Foreign tables are never
/// named, so they survive. Must be used inside the target namespace (see `FirewallClient`).
final class NftablesBackend {
    static let table = "inet havpn"
    private let context: OpaquePointer

    /// Loads libnftables (once per process) and opens its netlink socket in the calling thread's namespace.
    init() throws(HAVPNError) {
        try Self.loadLibrary()
        guard let context = havpn_nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw HAVPNError(.missingKernelFeature, "libnftables could not open its netlink socket", object: "nftables")
        }
        havpn_nft_ctx_buffer_output(context)
        havpn_nft_ctx_buffer_error(context)
        self.context = context
    }

    deinit { havpn_nft_ctx_free(context) }

    /// Runs `script` as one transaction; returns the output, or throws with libnftables' first error line.
    @discardableResult
    func run(_ script: String, what: String) throws(HAVPNError) -> String {
        let rc = havpn_nft_run_cmd_from_buffer(context, script)
        let output = havpn_nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        let errorText = havpn_nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        guard rc == 0 else {
            let first = errorText.split(separator: "\n").first.map(String.init) ?? "failed"
            throw HAVPNError(.kernel, "nftables: cannot \(what): \(first)", object: "table \(Self.table)")
        }
        return output
    }

    /// libnftables is opened on first use, not linked (see CNftables.h): a host without it can still
    /// run havpn with the iptables backend, and `auto` falls back to iptables with this reason.
    static func loadLibrary() throws(HAVPNError) {
        var reason = [CChar](repeating: 0, count: 256)
        guard havpn_nft_load(&reason, reason.count) != 0 else { return }
        throw HAVPNError(
            .missingKernelFeature,
            "libnftables cannot be loaded (Debian package libnftables1): \(text(reason))",
            object: "nftables"
        )
    }

    /// What ``loadLibrary()`` checks, for any library: `nil` when `soname` opens and has every call
    /// havpn makes, or the reason it does not.
    static func libraryProblem(soname: String) -> String? {
        var reason = [CChar](repeating: 0, count: 256)
        return havpn_nft_check_library(soname, &reason, reason.count) == 0 ? nil : text(reason)
    }

    /// A C string the loader wrote into `buffer`, up to its terminating zero.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// See `havpn_nft_inet_table_probe` (CNftables): 0, or the kernel's -errno.
    static func havpnNftInetTableProbeResult() -> Int32 { havpn_nft_inet_table_probe() }

    /// Throws when the kernel plainly has no nf_tables for the inet family (or no nfnetlink), asked
    /// with one raw netfilter batch that is never committed. Cheaper than ``probe()`` where it fails
    /// (iptables-legacy hosts, the lab), which first loads libnftables' parser and cache; any other
    /// answer leaves the decision to ``probe()``.
    static func precheck() throws(HAVPNError) {
        let rc = havpnNftInetTableProbeResult()
        guard rc == -EOPNOTSUPP || rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT else { return }
        throw HAVPNError(
            .missingKernelFeature,
            "the kernel's nf_tables cannot hold an inet table: \(String(cString: strerror(-rc)))",
            object: "nftables"
        )
    }

    /// Whether this kernel can hold havpn's table: an inet table with a NAT chain, created and
    /// deleted again as a dry run. The kernel checks every command (chain type, hook, masquerade
    /// expression) and then aborts the batch, so nothing is committed: no new ruleset generation, no
    /// event for other listeners, and an apply stays one transaction.
    func probe() throws(HAVPNError) {
        havpn_nft_ctx_set_dry_run(context, true)
        defer { havpn_nft_ctx_set_dry_run(context, false) }
        try run(
            """
            add table inet havpn-probe
            add chain inet havpn-probe p { type nat hook postrouting priority srcnat; policy accept; }
            add rule inet havpn-probe p oifname "havpn-probe" masquerade
            delete table inet havpn-probe
            """,
            what: "create an inet table with a NAT chain"
        )
    }

    /// Rule ids per chain of `inet havpn`; empty when the table does not exist.
    func observe(expecting desired: Ruleset? = nil) throws(HAVPNError) -> ObservedRuleset {
        let listing: String
        do {
            listing = try run("list table \(Self.table)", what: "list the table")
        } catch {
            if error.message.contains("No such file or directory") { return ObservedRuleset() }
            throw error
        }
        var verdicts: [String: String] = [:]
        for rule in desired?.rules ?? [] { verdicts[rule.id] = Self.verdictWord(rule) }
        return ObservedRuleset(chains: Self.parse(listing, verdicts: verdicts))
    }

    func apply(_ ruleset: Ruleset) throws(HAVPNError) {
        try run(Self.script(ruleset), what: "replace the table")
    }

    // MARK: - Text (pure)

    /// The transaction that replaces the table (or removes it, for an empty ruleset).
    static func script(_ ruleset: Ruleset) -> String {
        var lines = ["add table \(table)", "delete table \(table)"]
        let chains = RulesetChain.allCases.filter { !ruleset.rules(in: $0).isEmpty }
        if !chains.isEmpty {
            lines.append("table \(table) {")
            for chain in chains {
                lines.append("\tchain \(name(chain)) {")
                lines.append("\t\t\(header(chain))")
                for rule in ruleset.rules(in: chain) { lines.append("\t\t" + render(rule)) }
                lines.append("\t}")
            }
            lines.append("}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// nft chain names; `masquerade` is a keyword, so the NAT chain is named after its hook.
    static func name(_ chain: RulesetChain) -> String {
        switch chain {
        case .input: "input"
        case .forward: "forward"
        case .mss: "mss_clamp"
        case .masquerade: "nat_postrouting"
        case .netmapPrerouting: "netmap_prerouting"
        case .netmapOutput: "netmap_output"
        case .netmapPostrouting: "netmap_postrouting"
        }
    }

    static func header(_ chain: RulesetChain) -> String {
        switch chain {
        case .input: "type filter hook input priority filter; policy accept;"
        case .forward: "type filter hook forward priority filter; policy accept;"
        case .mss: "type filter hook forward priority mangle; policy accept;"
        case .masquerade: "type nat hook postrouting priority srcnat; policy accept;"
        case .netmapPrerouting: "type nat hook prerouting priority dstnat; policy accept;"
        // nft 1.0.6 knows the name dstnat for prerouting only; -100 is its value.
        case .netmapOutput: "type nat hook output priority -100; policy accept;"
        case .netmapPostrouting: "type nat hook postrouting priority srcnat; policy accept;"
        }
    }

    static func render(_ rule: FirewallRule) -> String {
        var parts: [String] = []
        if let i = rule.interface {
            parts.append("\(i.direction == .incoming ? "iifname" : "oifname") \"\(i.name)\(i.isPrefix ? "*" : "")\"")
        }
        switch rule.match {
        case .any: break
        case .establishedOrRelated: parts.append("ct state established,related")
        case .icmpv6: parts.append("meta l4proto ipv6-icmp")
        case .tunnelTransportIPv4: parts.append("meta nfproto ipv6 meta l4proto 4")
        case .tunnelTransportIPv6: parts.append("meta nfproto ipv6 meta l4proto 41")
        case .tcpSyn: parts.append("tcp flags & (syn | rst) == syn")
        }
        if let group = rule.socketGroup { parts.append("meta skgid \(group)") }
        if let source = rule.source { parts.append("\(family(source)) saddr \(source)") }
        if let destination = rule.destination { parts.append("\(family(destination)) daddr \(destination)") }
        switch rule.verdict {
        case .accept: parts.append("accept")
        case .drop: parts.append("counter drop")
        case .masquerade: parts.append("masquerade")
        case .clampMSSToPMTU: parts.append("tcp option maxseg size set rt mtu")
        case .netmap:
            let to = rule.netmapTo.map { "\(family($0)) prefix to \($0)" } ?? "prefix to ?"
            parts.append((rule.chain.translatesDestination ? "dnat " : "snat ") + to)
        }
        parts.append("comment \"\(rule.id)\"")
        return parts.joined(separator: " ")
    }

    /// nft's address-family keyword for a network (`ip` or `ip6`).
    static func family(_ network: IPNetwork) -> String { network.family == .ipv4 ? "ip" : "ip6" }

    /// Rule comments per havpn chain from `nft list table` text. A rule without havpn's comment (added
    /// by hand) and a chain whose policy is not accept show up as entries no desired rule has, so
    /// they are drift and the next apply replaces them.
    /// The word nft prints just before a rule's comment for each verdict.
    static func verdictWord(_ rule: FirewallRule) -> String {
        switch rule.verdict {
        case .accept: "accept"
        case .drop: "drop"
        case .masquerade: "masquerade"
        case .clampMSSToPMTU: "mtu"
        // The target range, so a rule edited to translate elsewhere is drift too.
        case .netmap: rule.netmapTo.map(String.init(describing:)) ?? "?"
        }
    }

    /// `verdicts`: the word each desired id must end with; a rule edited in place to another
    /// verdict while keeping havpn's comment is reported as `edited <id>`.
    static func parse(_ listing: String, verdicts: [String: String] = [:]) -> [RulesetChain: [String]] {
        var chains: [RulesetChain: [String]] = [:]
        var current: RulesetChain?
        var inOwnChain = false
        for raw in listing.split(separator: "\n") {
            let line = raw.trimmingWhitespace
            if line.hasPrefix("chain ") && line.hasSuffix("{") {
                let name = line.dropFirst("chain ".count).dropLast().trimmingWhitespace
                current = RulesetChain.allCases.first { Self.name($0) == name }
                inOwnChain = true
                if let current { chains[current] = chains[current] ?? [] }
                continue
            }
            guard inOwnChain else { continue }
            if line == "}" { inOwnChain = false; current = nil; continue }
            guard let chain = current, !line.isEmpty else { continue }
            if line.hasPrefix("type ") {
                if !line.contains("policy accept") { chains[chain, default: []].append("chain-policy-changed") }
                continue
            }
            var id = comment(in: line) ?? "unowned-rule"
            if let want = verdicts[id], let range = line.firstRange(of: " comment \"") {
                let before = line[..<range.lowerBound].split(separator: " ").last.map(String.init)
                if before != want { id = "edited " + id }
            }
            chains[chain, default: []].append(id)
        }
        return chains
    }

    static func comment(in line: String) -> String? {
        guard let range = line.firstRange(of: "comment \"") else { return nil }
        let rest = line[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        let text = String(rest[..<end])
        return text.hasPrefix("havpn:") ? text : nil
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        var t = Substring(self)
        while let c = t.first, c.isWhitespace { t.removeFirst() }
        while let c = t.last, c.isWhitespace { t.removeLast() }
        return String(t)
    }
}
