import Glibc
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNTestSupport
import Testing

@testable import HAVPNFirewall

/// The in-process reading of iptables-legacy tables (IPT_SO_GET_ENTRIES) against what
/// iptables-save prints of the same tables, in the lab's kernel. In IptablesBackendTests's suite,
/// so that `scripts/kernel-tests --filter IptablesBackendTests` runs them too.
extension IptablesBackendTests {
    func inside<T>(_ ns: TestNamespace, _ body: () -> T) throws -> T {
        try inNamespace(NetworkNamespace(named: ns.name)) { body() }
    }

    /// Foreign chains and rules of many shapes in every table of `family`, and edits inside
    /// havpn's own chains: a rule of havpn's id with another target, a rule without comment, a
    /// goto carrying an id, an odd havpn-like comment, a second jump of havpn's form, and every
    /// owned chain `desired` lacks, empty.
    func addForeignRules(_ ns: TestNamespace, _ family: IptablesBackend.Family, _ desired: Ruleset) throws {
        func t(_ arguments: String...) throws {
            try run("ip", ["netns", "exec", ns.name, family.command, "-w"] + arguments)
        }
        let v4 = family == .ipv4
        for table in IptablesBackend.tables { try t("-t", table, "-N", "FOREIGN") }
        try t("-A", "FOREIGN", "-p", "tcp", "--dport", "443", "-j", "RETURN")
        try t("-A", "FOREIGN", "-s", v4 ? "10.1.0.0/16" : "fd00:1::/64", "-j", "DROP")
        try t("-A", "FOREIGN", "-p", "udp")  // no target
        try t("-A", "FOREIGN", "-m", "comment", "--comment", "kube service: x", "-j", "ACCEPT")
        try t("-A", "FOREIGN", "-m", "comment", "--comment", "havpn:not-in-an-owned-chain", "-j", "ACCEPT")
        try t("-N", "EMPTY")
        try t("-N", "CALLER")
        try t("-A", "CALLER", "-j", "EMPTY")
        try t("-A", "CALLER", "-i", "eth0", "-g", "FOREIGN")
        try t("-A", "INPUT", "-p", "tcp", "-j", "FOREIGN")
        try t("-A", "INPUT", "-g", "CALLER")
        try t("-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT")
        try t("-t", "nat", "-A", "PREROUTING", "-j", "FOREIGN")
        try t("-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE")
        try t(
            "-t",
            "mangle",
            "-A",
            "FORWARD",
            "-p",
            "tcp",
            "--tcp-flags",
            "SYN,RST",
            "SYN",
            "-j",
            "TCPMSS",
            "--clamp-mss-to-pmtu"
        )
        let rule = try #require(desired.rules.first { IptablesBackend.applies($0, to: family) })
        let place = IptablesBackend.placement(rule.chain)
        try t("-t", place.table, "-I", place.chain, "1", "-m", "comment", "--comment", rule.id, "-j", "RETURN")
        try t("-t", place.table, "-A", place.chain, "-j", "RETURN")
        try t("-t", place.table, "-A", place.chain, "-m", "comment", "--comment", rule.id, "-g", "FOREIGN")
        try t("-t", place.table, "-A", place.chain, "-m", "comment", "--comment", "havpn:odd id", "-j", "ACCEPT")
        try t("-t", place.table, "-A", place.builtin, "-m", "comment", "--comment", "havpn:jump", "-j", place.chain)
        // A foreign chain that refers to an owned one, by jump and by goto (a goto from the built-in chain is
        // read through `*-save`: aGotoFromTheBuiltInChainIsAnExtraJump).
        try t("-t", place.table, "-N", "REFERRER")
        try t("-t", place.table, "-A", "REFERRER", "-j", place.chain)
        try t("-t", place.table, "-A", "REFERRER", "-s", v4 ? "10.2.0.0/16" : "fd00:2::/64", "-g", place.chain)
        for chain in RulesetChain.allCases
        where desired.rules(in: chain).allSatisfy({ !IptablesBackend.applies($0, to: family) }) {
            let empty = IptablesBackend.placement(chain)
            try t("-t", empty.table, "-N", empty.chain)
        }
    }

    /// Per chain, each rule as `TARGET` (after `-j`), `-g TARGET` or nothing, with its havpn comment.
    static func rulesInSave(_ text: String) -> (userChains: [String], rules: [String: [String]]) {
        var chains: [String] = []
        var rules: [String: [String]] = [:]
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix(":") {
                let name = String(line.dropFirst().prefix { $0 != " " })
                if !XtablesReader.hooks.contains(name) { chains.append(name) }
            }
            guard line.hasPrefix("-A ") else { continue }
            let words = line.split(separator: " ").map(String.init)
            var target = ""
            if let j = words.firstIndex(where: { $0 == "-j" || $0 == "-g" }), j + 1 < words.count {
                target = (words[j] == "-g" ? "-g " : "") + words[j + 1]
            }
            rules[words[1], default: []].append("\(target) \(IptablesBackend.comment(in: words) ?? "-")")
        }
        return (chains, rules)
    }

    static func rulesWalked(_ table: XtablesTable) -> (userChains: [String], rules: [String: [String]]) {
        var rules: [String: [String]] = [:]
        for rule in table.rules {
            let target = (rule.isGoto ? "-g " : "") + rule.target
            let comment = rule.comment.flatMap(IptablesBackend.savedComment) ?? "-"
            rules[rule.chain, default: []].append("\(target) \(comment)")
        }
        return (table.userChains, rules)
    }

    /// The differential test: varied tables (havpn's ruleset of each role and the foreign and
    /// edited rules above), read in-process and through `*-save`, give the same Snapshot, and the
    /// walker sees every rule's chain, target and comment as iptables-save prints them.
    @Test(arguments: [Role.apiserver, .shoot, .server])
    func theInProcessReadingMatchesTheSavedText(role: Role) throws {
        let ns = try TestNamespace()
        let desired = Self.ruleset(role)
        try FirewallClient(netns: ns.name, backend: .iptables).apply(desired)
        let targets = IptablesBackend.targets(desired)
        for family in IptablesBackend.Family.allCases {
            try addForeignRules(ns, family, desired)
            let saved = IptablesBackend.parse(try tables(ns, family.save), targets: targets)
            let read = try inside(ns) { IptablesBackend.readSnapshot(family, targets: targets) }
            #expect(read == saved, "\(family)")
            let ids = saved.chains.values.joined()
            #expect(ids.contains { $0.hasPrefix("edited havpn:") }, "\(family): the test has an edited rule")
            #expect(ids.filter { $0 == "unowned-rule" }.count == 2, "\(family): no comment, an odd comment")
            #expect(saved.jumps.values.contains { $0.count == 2 }, "\(family): a second jump")
            #expect(saved.chains.values.contains { $0.isEmpty }, "\(family): an empty owned chain")
            #expect(saved.references.values.contains { $0 == ["REFERRER", "REFERRER"] }, "\(family): a referrer")
            for table in IptablesBackend.tables {
                let walked = try #require(try inside(ns) { try? XtablesReader.read(family, table).get() })
                let text = try run("ip", ["netns", "exec", ns.name, family.save, "-t", table])
                let want = Self.rulesInSave(text)
                let have = Self.rulesWalked(walked)
                #expect(have.userChains.sorted() == want.userChains.sorted(), "\(family) \(table)")
                #expect(have.rules == want.rules, "\(family) \(table)")
            }
        }
    }

    /// A jump to an owned chain that is not havpn's form (here with `-s`) is read through
    /// `*-save`, whose line deletes it exactly; the foreign chain and its jump stay.
    @Test func aForeignJumpToAnOwnedChainIsReadThroughSaveAndRemoved() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.apiserver)
        try firewall.apply(desired)
        try iptables(ns, "-N", "FOREIGN")
        try iptables(ns, "-A", "FOREIGN", "-p", "tcp", "--dport", "443", "-j", "RETURN")
        try iptables(ns, "-A", "FOREIGN", "-j", "HAVPN-INPUT")  // not from the built-in chain: not havpn's to delete
        try iptables(ns, "-A", "INPUT", "-j", "FOREIGN")
        try iptables(ns, "-A", "INPUT", "-s", "10.9.0.0/16", "-j", "HAVPN-INPUT")
        #expect(try inside(ns) { IptablesBackend.readSnapshot(.ipv4, targets: [:]) } == nil, "needs the save")
        #expect(try inside(ns) { IptablesBackend.readSnapshot(.ipv6, targets: [:]) } != nil)
        func children(_ body: () throws -> Void) rethrows -> Int { try Self.children(firewall, body) }
        var plan: [PlanAction] = []
        #expect(try children { plan = try Self.plan(desired, firewall) } == 1, "iptables-legacy-save for IPv4")
        #expect(plan.count == 1, "two jumps: drift")
        #expect(try children { try firewall.apply(desired) } == 2, "IPv4: its save and its restore")
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0, "havpn's form again: in-process")
        #expect(plan.isEmpty)
        let save = try tables(ns)
        #expect(!save.contains("10.9.0.0/16"))
        #expect(save.contains("-A FOREIGN -p tcp -m tcp --dport 443 -j RETURN"))
        #expect(save.contains("-A FOREIGN -j HAVPN-INPUT"))
        #expect(save.contains("-A INPUT -j FOREIGN"))
        #expect(save.components(separatedBy: "-A INPUT -m comment --comment \"havpn:jump\" -j HAVPN-INPUT").count == 2)
    }
}

extension IptablesBackendTests {
    /// `-g` from the built-in chain into an owned chain is a jump too: an extra one is removed (through its
    /// `*-save` line), and one that is left alone is replaced, since a goto skips the built-in chain's later rules.
    @Test func aGotoFromTheBuiltInChainIsAnExtraJump() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.apiserver)
        try firewall.apply(desired)
        let havpnJump = "-A INPUT -m comment --comment \"havpn:jump\" -j HAVPN-INPUT"
        try iptables(ns, "-A", "INPUT", "-s", "10.9.0.0/16", "-g", "HAVPN-INPUT")
        #expect(try inside(ns) { IptablesBackend.readSnapshot(.ipv4, targets: [:]) } == nil, "needs the save")
        #expect(try Self.plan(desired, firewall).count == 1, "two jumps: drift")
        try firewall.apply(desired)
        var save = try tables(ns)
        #expect(!save.contains("-g HAVPN-INPUT") && save.components(separatedBy: havpnJump).count == 2)
        #expect(try Self.plan(desired, firewall).isEmpty)

        try iptables(ns, "-D", "INPUT", "-m", "comment", "--comment", "havpn:jump", "-j", "HAVPN-INPUT")
        try iptables(ns, "-I", "INPUT", "1", "-g", "HAVPN-INPUT")
        #expect(try Self.plan(desired, firewall).count == 1, "a goto as the only jump: drift")
        try firewall.apply(desired)
        save = try tables(ns)
        #expect(!save.contains("-g HAVPN-INPUT") && save.components(separatedBy: havpnJump).count == 2)
    }

    /// A chain that havpn no longer wants but that a foreign chain still jumps to cannot be deleted: the
    /// apply says so in one line, names the foreign chain and changes neither family (the IPv4 chain too
    /// stays when only IPv6 is blocked); once that rule is gone it prunes.
    @Test(arguments: IptablesBackend.Family.allCases)
    func aChainForeignRulesReferToIsKeptAndTheErrorNamesThem(family: IptablesBackend.Family) throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        try firewall.apply(Self.ruleset(.apiserver))
        func t(_ arguments: String...) throws {
            try run("ip", ["netns", "exec", ns.name, family.command, "-w"] + arguments)
        }
        try t("-N", "FOREIGN")
        try t("-A", "FOREIGN", "-j", "HAVPN-INPUT")
        try t("-A", "OUTPUT", "-j", "FOREIGN")
        // iptables-save's comment lines carry the time.
        func rules() throws -> [Substring] {
            let both = try tables(ns) + tables(ns, "ip6tables-legacy-save")
            return both.split(separator: "\n").filter { !$0.hasPrefix("#") }
        }
        let before = try rules()
        let error = #expect(throws: HAVPNError.self) { try firewall.apply(Ruleset()) }
        #expect(error?.code == .conflict)
        let name = family == .ipv4 ? "IPv4" : "IPv6"
        #expect(
            error?.description.contains("the \(name) chain HAVPN-INPUT (table filter): rules in FOREIGN jump to it")
                == true
        )
        #expect(error?.description.contains("\n") == false)
        #expect(try rules() == before, "nothing changed in either family")
        try t("-D", "FOREIGN", "-j", "HAVPN-INPUT")
        try firewall.apply(Ruleset())
        let after = try rules()
        #expect(!after.contains { $0.contains("HAVPN-") })
        #expect(after.contains("-A OUTPUT -j FOREIGN"))
    }

    /// A foreign rule inside another owned chain that jumps to a chain being pruned is flushed with its
    /// chain before the deletion (deletions go last in the restore document), so it does not block it.
    @Test func aForeignJumpFromAnOwnedChainDoesNotBlockAPrune() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.shoot)  // HAVPN-FORWARD in filter, no HAVPN-INPUT
        try firewall.apply(desired)
        try iptables(ns, "-N", "HAVPN-INPUT")
        try iptables(ns, "-A", "HAVPN-FORWARD", "-j", "HAVPN-INPUT")
        // HAVPN-FORWARD edited, and HAVPN-INPUT (empty, no jump to it) to prune: `plan` shows what `apply` does.
        let plan = try Self.plan(desired, firewall)
        #expect(plan.count == 2)
        #expect(plan.contains(.setRulesetChain(.input, from: ["ipv4 empty chain"], to: [])))
        try firewall.apply(desired)
        let save = try tables(ns)
        #expect(!save.contains("HAVPN-INPUT"))
        #expect(try Self.plan(desired, firewall).isEmpty)
    }

    /// The lab's nf_tables has no inet family: the raw precheck says so (EOPNOTSUPP) before
    /// libnftables is loaded, and `auto` takes iptables-legacy.
    @Test func nftablesPrecheckFindsNoInetFamily() throws {
        let ns = try TestNamespace()
        let rc = try inNamespace(NetworkNamespace(named: ns.name)) { NftablesBackend.havpnNftInetTableProbeResult() }
        #expect(rc == -EOPNOTSUPP)
        #expect(throws: HAVPNError.self) {
            try inNamespace(NetworkNamespace(named: ns.name)) { () throws(HAVPNError) in try NftablesBackend.precheck()
            }
        }
        #expect(try FirewallClient(netns: ns.name, backend: .auto).resolvedBackend() == .iptables)
    }
}
