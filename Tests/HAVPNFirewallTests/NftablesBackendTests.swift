import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// The nftables backend against the host kernel, each test in its own fresh network namespace.
@Suite(.enabled(if: HostNftables.isAvailable, "\(HostNftables.unavailableReason ?? "")"))
struct NftablesBackendTests {
    @Test(arguments: [Role.apiserver, .shoot, .server])
    func everyRoleAppliesAndVerifiesEmpty(role: Role) throws {
        let ns = try TestNamespace()
        let firewall = try ns.firewall()
        let desired = Roles.ruleset(role)
        #expect(!desired.rules.isEmpty)
        #expect(try Planner.planRuleset(desired, firewall).count == Set(desired.rules.map(\.chain)).count)
        try firewall.apply(desired)
        #expect(try firewall.observe(expecting: desired).chains == desired.fingerprint)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty, "the second plan is empty")
        // An independent reading: nft itself lists havpn's table with every rule's comment.
        let listing = try ns.nft("list table inet havpn")
        for rule in desired.rules { #expect(listing.contains(rule.id)) }
    }

    @Test func theShootRulesetHasVpn2sPieces() throws {
        let ns = try TestNamespace()
        try ns.firewall().apply(Roles.ruleset(.shoot))
        let listing = try ns.nft("list table inet havpn")
        #expect(listing.contains("oifname \"eth0\" masquerade"))
        #expect(listing.contains("maxseg size set rt mtu"))
        #expect(listing.contains("iifname \"bond0ip6tnl*\" accept"))
        #expect(listing.contains("type nat hook postrouting priority srcnat"))
    }

    @Test func foreignTablesSurviveApplyReplaceAndPrune() throws {
        let ns = try TestNamespace()
        try ns.nft("add table ip kube-proxy")
        try ns.nft("add chain ip kube-proxy services { type nat hook prerouting priority dstnat ; }")
        try ns.nft("add rule ip kube-proxy services tcp dport 443 counter accept")
        try ns.nft("add table inet operator")
        let firewall = try ns.firewall()
        try firewall.apply(Roles.ruleset(.apiserver))
        try firewall.apply(Roles.ruleset(.apiserver) { $0.devices.bond = "bond9" })
        #expect(try Planner.planRuleset(Roles.ruleset(.apiserver) { $0.devices.bond = "bond9" }, firewall).isEmpty)
        let pruned = Ruleset()
        let prune = try Planner.planRuleset(pruned, firewall)
        let applied = try #require(Roles.ruleset(.apiserver) { $0.devices.bond = "bond9" }.fingerprint[.input])
        #expect(prune == [.setRulesetChain(.input, from: applied, to: [])])
        try firewall.apply(pruned)
        #expect(try firewall.observe(expecting: pruned).chains.isEmpty)
        #expect(try Planner.planRuleset(pruned, firewall).isEmpty)
        let tables = try ns.nft("list tables")
        #expect(tables.contains("table ip kube-proxy"))
        #expect(tables.contains("table inet operator"))
        #expect(!tables.contains("table inet havpn"))
        #expect(try ns.nft("list table ip kube-proxy").contains("tcp dport 443"))
    }

    @Test func aHandFlushIsDriftThatPlanShowsAndApplyRepairs() throws {
        let ns = try TestNamespace()
        let firewall = try ns.firewall()
        let desired = Roles.ruleset(.apiserver)
        try firewall.apply(desired)
        try ns.nft("flush chain inet havpn input")
        let drift = try Planner.planRuleset(desired, firewall)
        let input = try #require(desired.fingerprint[.input])
        #expect(drift == [.setRulesetChain(.input, from: [], to: input)])
        #expect(PlanRenderer.line(drift[0]).hasPrefix("+ ruleset chain input (bond0-ipip, bond0-ip6ip6, bond0-replies"))
        try firewall.apply(desired)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty)

        try ns.nft("flush ruleset")
        #expect(try Planner.planRuleset(desired, firewall).count == 1)
        try firewall.apply(desired)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty)
    }

    @Test func aRuleAddedOrEditedByHandIsDrift() throws {
        let ns = try TestNamespace()
        let firewall = try ns.firewall()
        let desired = Roles.ruleset(.shoot)
        try firewall.apply(desired)
        try ns.nft("add rule inet havpn forward iifname eth0 accept")
        let drift = try Planner.planRuleset(desired, firewall)
        #expect(drift.count == 1)
        if case .setRulesetChain(.forward, let from, _) = drift.first {
            #expect(from.last == "unowned-rule")
        } else {
            Issue.record("the drift is not in the forward chain: \(drift)")
        }
        try ns.nft("chain inet havpn nat_postrouting { policy drop ; }")
        #expect(try Planner.planRuleset(desired, firewall).count == 2)
        try firewall.apply(desired)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty)
        #expect(!(try ns.nft("list table inet havpn")).contains("policy drop"))
    }

    @Test func autoPicksNftablesOnThisKernel() throws {
        let ns = try TestNamespace()
        #expect(try ns.firewall(.auto).resolvedBackend() == .nftables)
    }
}

extension NftablesBackendTests {
    @Test func aVerdictEditedInPlaceIsDrift() throws {
        let ns = try TestNamespace()
        let firewall = try ns.firewall()
        let desired = Roles.ruleset(.server)
        try firewall.apply(desired)
        let listing = try ns.nft("-a list chain inet havpn input")
        let dropLine = try #require(listing.split(separator: "\n").first { $0.contains("tap+-drop") })
        let handle = try #require(dropLine.split(separator: " ").last)
        let comment = try #require(desired.rules.last?.id)
        try ns.nft("replace rule inet havpn input handle \(handle) iifname \"tap*\" accept comment \"\(comment)\"")
        #expect(try Planner.planRuleset(desired, firewall).count == 1)
        try firewall.apply(desired)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty)
    }
}
