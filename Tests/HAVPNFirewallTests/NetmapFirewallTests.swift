import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// NETMAP of overlapping seed and shoot networks through the nftables backend on the host kernel, each
/// test in fresh network namespaces.
@Suite(.enabled(if: HostNftables.isAvailable, "\(HostNftables.unavailableReason ?? "")"))
struct NetmapFirewallTests {
    /// Shoot pods 10.0.0.0/16 are also the seed's pod network.
    static func overlapping(_ t: inout Topology) {
        t.networks.shoot.pods = [IPNetwork("10.0.0.0/16")!]
        t.networks.shoot.services = [IPNetwork("10.96.0.0/16")!]
        t.networks.seedPods = [IPNetwork("10.0.0.0/16")!]
    }

    @Test(arguments: [Role.apiserver, .shoot])
    func netmapRulesetAppliesAndReadsBackConverged(role: Role) throws {
        let ns = try TestNamespace()
        let firewall = try ns.firewall()
        let desired = Roles.ruleset(role, Self.overlapping)
        #expect(desired.rules.contains { $0.verdict == .netmap })
        #expect(!(try Planner.planRuleset(desired, firewall)).isEmpty)
        try firewall.apply(desired)
        #expect(try firewall.observe(expecting: desired).chains == desired.fingerprint)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty, "the second plan is empty")
        let listing = try ns.nft("list table inet havpn")
        if role == .apiserver {
            #expect(listing.contains("meta skgid 31415 ip daddr 10.0.0.0/16 dnat ip prefix to 244.0.0.0/16"))
            #expect(listing.contains("oifname \"bond0-ip6tnl*\" ip saddr 10.0.0.0/16 snat ip prefix to 241.0.0.0/16"))
            #expect(listing.contains("iifname \"bond0-ip6tnl*\" ip daddr 241.0.0.0/16 dnat ip prefix to 10.0.0.0/16"))
        } else {
            #expect(listing.contains("iifname \"bond0ip6tnl*\" ip daddr 243.0.0.0/16 dnat ip prefix to 10.96.0.0/16"))
            #expect(listing.contains("oifname \"bond0ip6tnl*\" ip saddr 10.0.0.0/16 snat ip prefix to 244.0.0.0/16"))
        }
        // The overlap removed from the topology: the NETMAP chains are pruned, the rest stays.
        let plain = Roles.ruleset(role)
        try firewall.apply(plain)
        #expect(try Planner.planRuleset(plain, firewall).isEmpty)
        #expect(!(try ns.nft("list table inet havpn")).contains("prefix to"))
    }

    @Test func aNetmapTargetEditedByHandIsDrift() throws {
        let ns = try TestNamespace()
        let firewall = try ns.firewall()
        let desired = Roles.ruleset(.shoot, Self.overlapping)
        try firewall.apply(desired)
        let rule = try #require(desired.rules(in: .netmapPrerouting).last)
        let listing = try ns.nft("-a list chain inet havpn netmap_prerouting")
        let line = try #require(listing.split(separator: "\n").first { $0.contains(rule.id) })
        let handle = try #require(line.split(separator: " ").last)
        try ns.nft(
            "replace rule inet havpn netmap_prerouting handle \(handle) iifname \"bond0ip6tnl*\" "
                + "ip daddr 244.0.0.0/16 dnat ip prefix to 10.1.0.0/16 comment \"\(rule.id)\""
        )
        #expect(try Planner.planRuleset(desired, firewall).count == 1)
        try firewall.apply(desired)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty)
    }

    /// A veth pair stands in for a shoot-side tunnel: the "seed" end routes the stand-ins to the shoot
    /// namespace, which holds the real shoot pod address 10.0.0.5. Without havpn's
    /// rules neither direction works (244.0.0.5 is nobody, 10.0.0.5 has no route back); with them a ping
    /// to the stand-in reaches the real pod, and the pod's own ping leaves as its stand-in.
    @Test func packetsToTheStandInArriveTranslated() throws {
        let seed = try TestNamespace()
        let shoot = try TestNamespace()
        let tunnel = "bond0ip6tnl0001"
        try run(
            "ip",
            ["link", "add", "seedside", "netns", seed.name, "type", "veth", "peer", tunnel, "netns", shoot.name]
        )
        try seed.exec("ip", "addr", "add", "192.168.77.1/24", "dev", "seedside")
        try seed.exec("ip", "link", "set", "seedside", "up")
        try seed.exec("ip", "route", "add", "244.0.0.0/16", "via", "192.168.77.2")
        try shoot.exec("ip", "addr", "add", "192.168.77.2/24", "dev", tunnel)
        try shoot.exec("ip", "link", "set", tunnel, "up")
        // The shoot pod: a local address (the host kernel has no dummy devices).
        try shoot.exec("ip", "link", "set", "lo", "up")
        try shoot.exec("ip", "addr", "add", "10.0.0.5/32", "dev", "lo")
        func ping(_ ns: TestNamespace, _ arguments: String...) -> Bool {
            (try? ns.exec(["ping", "-n", "-c", "1", "-W", "1"] + arguments)) != nil
        }
        #expect(!ping(seed, "244.0.0.5"), "no translation without the ruleset")
        #expect(!ping(shoot, "-I", "10.0.0.5", "192.168.77.1"), "no way back without the ruleset")

        let desired = Roles.ruleset(.shoot, Self.overlapping)
        try shoot.firewall().apply(desired)
        #expect(ping(seed, "244.0.0.5"), "244.0.0.5 arrives as 10.0.0.5")
        #expect(ping(shoot, "-I", "10.0.0.5", "192.168.77.1"), "10.0.0.5 leaves as 244.0.0.5")
        // Only the stand-in of 10.0.0.5 is translated to it: 244.0.0.6 is 10.0.0.6, which nobody holds.
        #expect(!ping(seed, "244.0.0.6"))
    }
}

extension NetmapFirewallTests {
    /// The kube-apiserver side: only a process of group 31415 (the proxy) that dials the real shoot pod
    /// 10.0.0.5, which the seed's own pod network also holds, is sent to its stand-in through the tunnel,
    /// with the apiserver pod IP leaving as its 241/8 stand-in; the shoot side translates back.
    @Test func theProxysGroupReachesTheRealShootAddressThroughTheStandIn() throws {
        let api = try TestNamespace()
        let shoot = try TestNamespace()
        let tunnel = "bond0ip6tnl0001"
        try run(
            "ip",
            ["link", "add", "bond0-ip6tnl0", "netns", api.name, "type", "veth", "peer", tunnel, "netns", shoot.name]
        )
        // The apiserver pod's own network: 10.0.3.7 in the seed pod network 10.0.0.0/16.
        try api.exec("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer")
        try api.exec("ip", "addr", "add", "10.0.3.7/16", "dev", "eth0")
        for device in ["eth0", "eth0peer", "bond0-ip6tnl0"] { try api.exec("ip", "link", "set", device, "up") }
        // Addresses on the veth only so that ARP resolves the next hop (the real ip6tnl has no ARP).
        try api.exec("ip", "addr", "add", "192.168.77.1/24", "dev", "bond0-ip6tnl0")
        try api.exec("ip", "route", "add", "244.0.0.0/16", "via", "192.168.77.2")
        try shoot.exec("ip", "addr", "add", "192.168.77.2/24", "dev", tunnel)
        try shoot.exec("ip", "link", "set", tunnel, "up")
        try shoot.exec("ip", "link", "set", "lo", "up")
        try shoot.exec("ip", "addr", "add", "10.0.0.5/32", "dev", "lo")
        try shoot.exec("ip", "route", "add", "241.0.3.7/32", "via", "192.168.77.1")
        func ping(group: Int?) -> Bool {
            let prefix = group.map { ["setpriv", "--regid", "\($0)", "--clear-groups"] } ?? []
            return (try? api.exec(prefix + ["ping", "-n", "-c", "1", "-W", "1", "10.0.0.5"])) != nil
        }
        #expect(!ping(group: 31415), "nothing without the rulesets")
        try Self.apply(api: api, shoot: shoot)
        #expect(ping(group: 31415), "the proxy's group reaches the shoot pod")
        #expect(!ping(group: nil), "any other process stays in the seed pod network")
        #expect(!ping(group: 1000))
    }

    static func apply(api: TestNamespace, shoot: TestNamespace) throws {
        try api.firewall().apply(Roles.ruleset(.apiserver, overlapping))
        try shoot.firewall().apply(Roles.ruleset(.shoot, overlapping))
    }
}
