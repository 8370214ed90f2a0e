import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// The iptables-legacy backend in the lab's user-mode-linux kernel, which has no nf_tables for IP
/// (so `auto` must fall back to it). Each test in its own fresh network namespace.
@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct IptablesBackendTests {
    static func ruleset(_ role: Role, _ edit: (inout Topology) -> Void = { _ in }) -> Ruleset {
        var t = Topology()
        edit(&t)
        return Planner.desiredRuleset(topology: t, role: role)
    }

    static func plan(_ desired: Ruleset, _ firewall: FirewallClient) throws -> [PlanAction] {
        let observed = ObservedState(ruleset: try firewall.observe(expecting: desired))
        return Planner.plan(desired: DesiredState(ruleset: desired), observed: observed).actions
    }

    func tables(_ ns: TestNamespace, _ tool: String = "iptables-legacy-save") throws -> String {
        try run("ip", ["netns", "exec", ns.name, tool])
    }

    func iptables(_ ns: TestNamespace, _ arguments: String...) throws {
        try run("ip", ["netns", "exec", ns.name, "iptables-legacy", "-w"] + arguments)
    }

    func ip6tables(_ ns: TestNamespace, _ arguments: String...) throws {
        try run("ip", ["netns", "exec", ns.name, "ip6tables-legacy", "-w"] + arguments)
    }

    /// Child processes `body` starts.
    static func children(_ firewall: FirewallClient, _ body: () throws -> Void) rethrows -> Int {
        let before = firewall.iptablesChildProcesses
        try body()
        return firewall.iptablesChildProcesses - before
    }

    @Test func autoFallsBackToIptablesWithoutNftablesForIP() throws {
        let ns = try TestNamespace()
        #expect(try FirewallClient(netns: ns.name, backend: .auto).resolvedBackend() == .iptables)
    }

    /// A pass observes, applies and verifies. The tables are read in-process (no child), and only
    /// a family that differs is loaded (each child costs 0.1 s and more in this lab): drift in IPv4
    /// alone costs one restore.
    @Test func onlyTheFamilyThatChangedIsReadAndLoaded() throws {
        let ns = try TestNamespace()
        // In a fresh kernel the first probe loads ip_tables through an `iptables -S` child; later ones ask in-process.
        _ = try FirewallClient(netns: ns.name, backend: .iptables).resolvedBackend()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.apiserver)
        #expect(try Self.children(firewall) { _ = try firewall.resolvedBackend() } == 0, "probed in-process")
        func children(_ body: () throws -> Void) rethrows -> Int { try Self.children(firewall, body) }
        #expect(try children { _ = try firewall.observe(expecting: desired) } == 0, "pristine tables: no save")
        #expect(try children { try firewall.apply(desired) } == 2, "one restore per family")
        var plan: [PlanAction] = []
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0, "verified in-process")
        #expect(plan.isEmpty)
        #expect(try children { try firewall.apply(desired) } == 0, "converged: nothing loaded")

        try iptables(ns, "-D", "HAVPN-INPUT", "1")  // drift in IPv4 only
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0, "read in-process")
        #expect(!plan.isEmpty)
        #expect(try children { try firewall.apply(desired) } == 1, "IPv4 restored, IPv6 untouched")
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0, "and converged")
        #expect(plan.isEmpty)
        #expect(try tables(ns).contains("HAVPN-INPUT"))
    }

    /// Reading starts no child, whether a family's tables hold only their built-in chains (an
    /// IPv4-only pod's IPv6, a fresh pod: not even read) or foreign chains and rules.
    @Test func onlyFamiliesWithRulesOrChainsAreRead() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.apiserver)
        _ = try firewall.resolvedBackend()  // in a fresh kernel, its probe loads ip_tables (a child)
        func children(_ body: () throws -> Void) rethrows -> Int { try Self.children(firewall, body) }
        var plan: [PlanAction] = []
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0)
        #expect(!plan.isEmpty, "nothing there: every chain to add")
        try ip6tables(ns, "-t", "mangle", "-N", "FOREIGN")
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0, "IPv6 read in-process: a user chain")
        try iptables(ns, "-t", "nat", "-A", "POSTROUTING", "-j", "ACCEPT")
        #expect(try children { plan = try Self.plan(desired, firewall) } == 0, "IPv4 read in-process: a rule")
        #expect(plan == Planner.plan(desired: DesiredState(ruleset: desired), observed: ObservedState()).actions)
    }

    @Test(arguments: [Role.apiserver, .shoot, .server])
    func everyRoleAppliesAndVerifiesEmpty(role: Role) throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(role)
        #expect(!(try Self.plan(desired, firewall)).isEmpty)
        try firewall.apply(desired)
        #expect(try firewall.observe(expecting: desired).chains == desired.fingerprint)
        #expect(try Self.plan(desired, firewall).isEmpty, "the second plan is empty")
        try firewall.apply(desired)
        let v4 = try tables(ns)
        let v6 = try tables(ns, "ip6tables-legacy-save")
        for rule in desired.rules {
            #expect(v6.contains(rule.id))
            #expect(
                v4.contains(rule.id)
                    == (rule.match != .icmpv6 && rule.match != .tunnelTransportIPv4
                        && rule.match != .tunnelTransportIPv6)
            )
        }
        #expect(
            v4.components(separatedBy: "havpn:jump").count - 1 == Set(desired.rules.map(\.chain)).count,
            "one jump per chain after two applies"
        )
        #expect(v6.components(separatedBy: "havpn:jump").count - 1 == Set(desired.rules.map(\.chain)).count)
    }

    @Test func foreignChainsAndRulesSurviveApplyReplaceAndPrune() throws {
        let ns = try TestNamespace()
        try iptables(ns, "-N", "KUBE-SERVICES")
        try iptables(ns, "-A", "KUBE-SERVICES", "-p", "tcp", "--dport", "443", "-j", "RETURN")
        try iptables(ns, "-A", "INPUT", "-j", "KUBE-SERVICES")
        try iptables(ns, "-t", "nat", "-N", "KUBE-POSTROUTING")
        try iptables(ns, "-t", "nat", "-A", "POSTROUTING", "-j", "KUBE-POSTROUTING")
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        try firewall.apply(Self.ruleset(.apiserver))
        try firewall.apply(Self.ruleset(.shoot))  // input pruned, forward/mss/masquerade added
        #expect(try Self.plan(Self.ruleset(.shoot), firewall).isEmpty)
        var save = try tables(ns)
        #expect(!save.contains("HAVPN-INPUT"))
        #expect(save.contains(":HAVPN-POSTROUTING"))
        try firewall.apply(Ruleset())
        #expect(try Self.plan(Ruleset(), firewall).isEmpty)
        save = try tables(ns)
        #expect(!save.contains("HAVPN-"))
        #expect(save.contains("-A KUBE-SERVICES -p tcp -m tcp --dport 443 -j RETURN"))
        #expect(save.contains("-A INPUT -j KUBE-SERVICES"))
        #expect(save.contains("-A POSTROUTING -j KUBE-POSTROUTING"))
    }

    @Test func aHandFlushOrALostJumpIsDriftThatApplyRepairs() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.apiserver)
        try firewall.apply(desired)
        try iptables(ns, "-F", "HAVPN-INPUT")
        try ip6tables(ns, "-F", "HAVPN-INPUT")
        let input = try #require(desired.fingerprint[.input])
        #expect(try Self.plan(desired, firewall) == [.setRulesetChain(.input, from: [], to: input)])
        try firewall.apply(desired)
        #expect(try Self.plan(desired, firewall).isEmpty)
        try ip6tables(ns, "-D", "INPUT", "-m", "comment", "--comment", "havpn:jump", "-j", "HAVPN-INPUT")
        #expect(try Self.plan(desired, firewall).count == 1, "a lost jump (IPv6 only)")
        try firewall.apply(desired)
        #expect(try Self.plan(desired, firewall).isEmpty)
        try iptables(ns, "-A", "HAVPN-INPUT", "-j", "ACCEPT")
        #expect(try Self.plan(desired, firewall).count == 1, "a rule added by hand (IPv4 only)")
        try firewall.apply(desired)
        #expect(try Self.plan(desired, firewall).isEmpty)
    }

    /// The shoot side cannot open a connection to the apiserver pod: a ping from a peer namespace
    /// over a veth named like the bond gets through before the filter and is dropped and counted after.
    @Test func theInputFilterDropsAndCountsWhatThePeerOpens() throws {
        let pod = try TestNamespace()
        let shoot = try TestNamespace()
        try pod.ip("link", "add", "bond0", "type", "veth", "peer", "name", "peer0", "netns", shoot.name)
        try pod.ip("addr", "add", "10.99.0.1/24", "dev", "bond0")
        try pod.ip("link", "set", "bond0", "up")
        try shoot.ip("addr", "add", "10.99.0.2/24", "dev", "peer0")
        try shoot.ip("link", "set", "peer0", "up")
        let ping = ["netns", "exec", shoot.name, "ping", "-c", "1", "-W", "2", "10.99.0.1"]
        try run("ip", ping)
        try FirewallClient(netns: pod.name, backend: .iptables).apply(Self.ruleset(.apiserver))
        #expect(throws: CommandFailed.self) { try run("ip", ping) }
        let counters = try run(
            "ip",
            ["netns", "exec", pod.name, "iptables-legacy", "-w", "-L", "HAVPN-INPUT", "-v", "-x", "-n"]
        )
        let drop = try #require(counters.split(separator: "\n").first { $0.contains("havpn:bond0-drop:") })
        let packets = Int(drop.split(separator: " ").first ?? "0") ?? 0
        #expect(packets >= 1, "\(drop)")
    }
}

extension IptablesBackendTests {
    /// The run loop's 1 s drift check: a cheap table fingerprint that a hand flush changes.
    @Test func theChangeFingerprintSeesAHandFlush() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        try firewall.apply(Self.ruleset(.apiserver))
        let before = try firewall.changeFingerprint(expecting: nil)
        #expect(try firewall.changeFingerprint(expecting: nil) == before)
        try ip6tables(ns, "-F", "HAVPN-INPUT")
        #expect(try firewall.changeFingerprint(expecting: nil) != before)
    }
}

extension IptablesBackendTests {
    /// Every observation reads the tables afresh: a same-size edit (DROP replaced by ACCEPT, which
    /// keeps every table's entry count and size) is drift at the next plan.
    @Test func aSameSizeEditIsFoundAtOnce() throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(.server)
        try firewall.apply(desired)
        #expect(try Self.plan(desired, firewall).isEmpty)
        let drop = try #require(
            try tables(ns).split(separator: "\n").first { $0.contains("-A HAVPN-INPUT") && $0.contains("-j DROP") }
        )
        let accept = drop.replacingOccurrences(of: "-A HAVPN-INPUT", with: "").replacingOccurrences(
            of: "-j DROP",
            with: "-j ACCEPT"
        )
        .replacingOccurrences(of: "\"", with: "")
        let rulesBefore = try tables(ns).split(separator: "\n").filter { $0.hasPrefix("-A HAVPN-INPUT") }
        let position = try #require(rulesBefore.firstIndex { $0.contains("-j DROP") }) + 1
        let sizes = try firewall.changeFingerprint(expecting: nil)
        try run(
            "ip",
            ["netns", "exec", ns.name, "iptables-legacy", "-w", "-R", "HAVPN-INPUT", "\(position)"]
                + accept.split(separator: " ").map(String.init)
        )
        #expect(!(try tables(ns)).contains("-j DROP"))
        #expect(try firewall.changeFingerprint(expecting: nil) == sizes, "a same-size edit")
        #expect(try Self.plan(desired, firewall).count == 1, "the edit keeps the comment, so it must be the target")
        try firewall.apply(desired)
        #expect(try Self.plan(desired, firewall).isEmpty)
        #expect(try tables(ns).contains("-j DROP"))
    }
}
