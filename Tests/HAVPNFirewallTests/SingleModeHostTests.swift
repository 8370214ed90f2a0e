import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile
import HAVPNTestSupport
import Testing

/// Single mode on the host kernel, one fresh namespace per test: openvpn's tun0 (here a persistent tun made
/// by `ip tuntap`, which carries no havpn alias, as openvpn's does not) is routed through, never touched.
@Suite(.enabled(if: HostNftables.isAvailable, "\(HostNftables.unavailableReason ?? "")"))
struct SingleModeHostTests {
    static let topology: Topology = {
        var t = Topology()
        t.mode = .single
        t.servers = 1
        t.shootClients = 1
        t.networks.shoot.nodes = [IPNetwork("10.250.0.0/16")!]
        t.networks.seedPods = [IPNetwork("10.1.0.0/16")!]
        return t
    }()

    static func desired(_ role: Role) throws -> DesiredState {
        try Planner.desiredState(
            topology: topology,
            identity: Identity(role: role, index: 0),
            inputs: ControllerInputs()
        )
    }

    private func ownedRoutes(_ ns: TestNamespace) throws -> String {
        try ns.exec("ip", "route", "show", "proto", "201")
    }

    @Test func serverRoutesWaitForTun0ThenConvergeAndTun0IsNeverTouched() throws {
        let ns = try TestNamespace()
        let reconciler = Reconciler(netlink: try NetlinkClient(netns: ns.name), firewall: try ns.firewall())
        let desired = try Self.desired(.server)

        let before = try reconciler.apply(desired)
        #expect(before.converged)
        #expect(before.remaining.conflicts.isEmpty)
        #expect(before.remaining.waiting.count == 1)
        #expect(try ownedRoutes(ns).isEmpty)
        #expect(try ns.nft("list table inet havpn").contains("iifname \"tun0\""))

        try ns.exec("ip", "tuntap", "add", "tun0", "mode", "tun")
        try ns.exec("ip", "link", "set", "tun0", "up")
        let after = try reconciler.apply(desired)
        #expect(after.converged, "\(PlanRenderer.human(after.remaining))")
        #expect(after.remaining.waiting.isEmpty)
        let routes = try ownedRoutes(ns)
        // IPv4 is NETMAPped always (vpn2 non-HA): the stand-in ranges, not the real shoot networks.
        for network in ["242.0.0.0/8", "243.0.0.0/8", "244.0.0.0/8"] {
            #expect(routes.contains("\(network) dev tun0"), "\(routes)")
        }
        #expect(try reconciler.plan(desired).isEmpty)
        // Not adopted: no havpn alias on openvpn's device.
        #expect(try !ns.exec("ip", "-d", "link", "show", "tun0").contains("alias havpn"))

        // A route deleted by hand is drift, repaired; tun0 going away takes the routes, which wait again.
        try ns.exec("ip", "route", "del", "244.0.0.0/8", "dev", "tun0")
        #expect(try reconciler.apply(desired).applied.count == 1)
        try ns.exec("ip", "link", "del", "tun0")
        let gone = try reconciler.apply(desired)
        #expect(gone.applied.isEmpty && gone.converged && gone.remaining.waiting.count == 1)
    }

    @Test func shootForwardsAndNATsFromTun0() throws {
        let ns = try TestNamespace()
        let reconciler = Reconciler(netlink: try NetlinkClient(netns: ns.name), firewall: try ns.firewall())
        try ns.exec("ip", "tuntap", "add", "tun0", "mode", "tun")
        try ns.exec("ip", "link", "set", "tun0", "up")
        let desired = try Self.desired(.shoot)
        let outcome = try reconciler.apply(desired)
        #expect(outcome.converged, "\(PlanRenderer.human(outcome.remaining))")
        #expect(try ownedRoutes(ns).contains("241.0.0.0/8 dev tun0"))
        let table = try ns.nft("list table inet havpn")
        #expect(table.contains("iifname \"tun0\" accept"))
        #expect(table.contains("oifname \"eth0\" masquerade"))
        #expect(try ns.exec("sysctl", "-n", "net.ipv4.ip_forward").hasPrefix("1"))
        #expect(try reconciler.plan(desired).isEmpty)
    }
}
