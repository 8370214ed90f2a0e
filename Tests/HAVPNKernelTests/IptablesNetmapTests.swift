import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// NETMAP of overlapping seed and shoot networks through iptables-legacy in the lab's user-mode-linux
/// kernel (xt_NETMAP, xt_owner), each test in fresh network namespaces.
@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct IptablesNetmapTests {
    /// Shoot pods 10.0.0.0/16 are also the seed's pod network.
    static func ruleset(_ role: Role) -> Ruleset {
        var t = Topology()
        t.networks.shoot.pods = [IPNetwork("10.0.0.0/16")!]
        t.networks.shoot.services = [IPNetwork("10.96.0.0/16")!]
        t.networks.seedPods = [IPNetwork("10.0.0.0/16")!]
        return Planner.desiredRuleset(topology: t, role: role)
    }

    @Test(arguments: [Role.apiserver, .shoot])
    func netmapChainsApplyAndReadBackConverged(role: Role) throws {
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        let desired = Self.ruleset(role)
        try firewall.apply(desired)
        #expect(try firewall.observe(expecting: desired).chains == desired.fingerprint)
        #expect(try IptablesBackendTests.plan(desired, firewall).isEmpty, "the second plan is empty")
        let v4 = try run("ip", ["netns", "exec", ns.name, "iptables-legacy-save", "-t", "nat"])
        let v6 = try run("ip", ["netns", "exec", ns.name, "ip6tables-legacy-save", "-t", "nat"])
        #expect(!v6.contains("NETMAP"), "IPv4 only")
        if role == .apiserver {
            #expect(v4.contains("-d 10.0.0.0/16 -m owner --gid-owner 31415"))
            #expect(v4.contains("-j NETMAP --to 244.0.0.0/16"))
            #expect(v4.contains("-s 10.0.0.0/16 -o bond0-ip6tnl+"))
            #expect(v4.contains("-A OUTPUT -m comment --comment \"havpn:jump\" -j HAVPN-NETMAP-OUT"))
        } else {
            #expect(v4.contains("-d 243.0.0.0/16 -i bond0ip6tnl+"))
            #expect(v4.contains("-j NETMAP --to 10.96.0.0/16"))
            #expect(v4.contains("-A PREROUTING -m comment --comment \"havpn:jump\" -j HAVPN-NETMAP-PRE"))
        }
    }

    /// Single mode maps always (vpn2's non-HA): the server's OUTPUT rules for the proxy's group and the
    /// 241/8 pair, vpn-shoot's stand-in pairs, both on exactly `tun0` (not a prefix).
    @Test(arguments: [Role.server, .shoot])
    func singleModeChainsApplyAndReadBackConverged(role: Role) throws {
        var t = Topology()
        t.mode = .single
        t.servers = 1
        t.shootClients = 1
        t.networks.shoot.pods = [IPNetwork("10.0.0.0/16")!]
        t.networks.seedPods = [IPNetwork("10.0.0.0/16")!]
        let desired = Planner.desiredRuleset(topology: t, role: role)
        let ns = try TestNamespace()
        let firewall = try FirewallClient(netns: ns.name, backend: .iptables)
        try firewall.apply(desired)
        #expect(try firewall.observe(expecting: desired).chains == desired.fingerprint)
        #expect(try IptablesBackendTests.plan(desired, firewall).isEmpty, "the second plan is empty")
        let v4 = try run("ip", ["netns", "exec", ns.name, "iptables-legacy-save", "-t", "nat"])
        if role == .server {
            #expect(v4.contains("-d 10.0.0.0/16 -m owner --gid-owner 31415"), "\(v4)")
            #expect(v4.contains("-j NETMAP --to 244.0.0.0/16"))
            #expect(v4.contains("-s 10.0.0.0/16 -o tun0 "), "\(v4)")
            #expect(v4.contains("-d 241.0.0.0/16 -i tun0 "), "\(v4)")
        } else {
            #expect(v4.contains("-d 244.0.0.0/16 -i tun0 "), "\(v4)")
            #expect(v4.contains("-s 10.0.0.0/16 -o tun0 "), "\(v4)")
            #expect(!v4.contains("gid-owner"))
        }
    }

    /// As the nftables test on the host: a veth named like a shoot tunnel; the stand-in 244.0.0.5 reaches
    /// the real pod address 10.0.0.5, and the pod's own ping leaves as 244.0.0.5 (else no way back).
    @Test func packetsToTheStandInArriveTranslated() throws {
        let seed = try TestNamespace()
        let shoot = try TestNamespace()
        let tunnel = "bond0ip6tnl0001"
        _ = try seed.ip("link", "add", "seedside", "type", "veth", "peer", "name", tunnel, "netns", shoot.name)
        _ = try seed.ip("addr", "add", "192.168.77.1/24", "dev", "seedside")
        _ = try seed.ip("link", "set", "seedside", "up")
        _ = try seed.ip("route", "add", "244.0.0.0/16", "via", "192.168.77.2")
        _ = try shoot.ip("addr", "add", "192.168.77.2/24", "dev", tunnel)
        _ = try shoot.ip("link", "set", tunnel, "up")
        _ = try shoot.ip("link", "set", "lo", "up")
        _ = try shoot.ip("addr", "add", "10.0.0.5/32", "dev", "lo")
        func ping(_ ns: TestNamespace, _ arguments: String...) -> Bool {
            (try? run("ip", ["netns", "exec", ns.name, "ping", "-n", "-c", "1", "-W", "1"] + arguments)) != nil
        }
        #expect(!ping(seed, "244.0.0.5"), "no translation without the ruleset")
        #expect(!ping(shoot, "-I", "10.0.0.5", "192.168.77.1"), "no way back without the ruleset")
        try FirewallClient(netns: shoot.name, backend: .iptables).apply(Self.ruleset(.shoot))
        #expect(ping(seed, "244.0.0.5"), "244.0.0.5 arrives as 10.0.0.5")
        #expect(ping(shoot, "-I", "10.0.0.5", "192.168.77.1"), "10.0.0.5 leaves as 244.0.0.5")
    }
}
