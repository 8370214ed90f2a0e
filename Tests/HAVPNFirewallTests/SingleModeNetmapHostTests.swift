import HAVPNFirewall
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile
import HAVPNTestSupport
import Testing

/// Single mode's NETMAP on the host kernel: two fresh namespaces, the server pod and vpn-shoot, joined by a
/// veth pair called tun0 on both sides (ARP off, one MAC: it carries IP like openvpn's L3 tun0), each reconciled to
/// its whole desired state (routes, sysctls, nftables). The seed pods and the shoot pods are both
/// 10.1.0.0/16: only the proxy's group reaches the shoot pod, through its stand-in.
@Suite(.enabled(if: HostNftables.isAvailable, "\(HostNftables.unavailableReason ?? "")"))
struct SingleModeNetmapHostTests {
    /// SingleModeHostTests' topology with the shoot pods on the seed pod network (10.1.0.0/16).
    static let topology: Topology = {
        var t = SingleModeHostTests.topology
        t.networks.shoot.pods = [IPNetwork("10.1.0.0/16")!]
        t.networks.shoot.services = [IPNetwork("100.64.0.0/13")!]
        return t
    }()

    static func reconcile(_ ns: TestNamespace, _ role: Role) throws {
        let desired = try Planner.desiredState(
            topology: topology,
            identity: Identity(role: role, index: 0),
            inputs: ControllerInputs()
        )
        let reconciler = Reconciler(netlink: try NetlinkClient(netns: ns.name), firewall: try ns.firewall())
        let outcome = try reconciler.apply(desired)
        #expect(outcome.converged, "\(PlanRenderer.human(outcome.remaining))")
        #expect(try reconciler.plan(desired).isEmpty)
    }

    @Test func theProxysGroupReachesAnOverlappingShootPodThroughTheStandIns() throws {
        let server = try TestNamespace()
        let shoot = try TestNamespace()
        try run(
            "ip",
            ["link", "add", "tun0", "netns", server.name, "type", "veth", "peer", "tun0", "netns", shoot.name]
        )
        for ns in [server, shoot] {
            // A NOARP device sends to its own MAC: both ends share one, so each takes the other's frames.
            try ns.exec("ip", "link", "set", "tun0", "arp", "off", "address", "02:00:00:00:00:01")
            try ns.exec("ip", "link", "set", "tun0", "up")
            try ns.exec("ip", "link", "set", "lo", "up")
        }
        // The server pod IP 10.1.3.7 in the seed pod network; the shoot pod 10.1.0.5 on vpn-shoot itself.
        try server.exec("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0peer")
        try server.exec("ip", "addr", "add", "10.1.3.7/16", "dev", "eth0")
        for device in ["eth0", "eth0peer"] { try server.exec("ip", "link", "set", device, "up") }
        try shoot.exec("ip", "addr", "add", "10.1.0.5/32", "dev", "lo")
        func ping(group: Int?) -> Bool {
            // -W 1: a lost reply fails the test in a second.
            let prefix = group.map { ["setpriv", "--regid", "\($0)", "--clear-groups"] } ?? []
            return (try? server.exec(prefix + ["ping", "-n", "-c", "1", "-W", "1", "10.1.0.5"])) != nil
        }
        #expect(!ping(group: 31415), "nothing without the desired states")
        try Self.reconcile(server, .server)
        try Self.reconcile(shoot, .shoot)
        let table = try server.nft("list table inet havpn")
        #expect(table.contains("skgid 31415"), "\(table)")
        #expect(ping(group: 31415), "the proxy's group reaches the shoot pod as 244.0.0.5 from 241.1.3.7")
        #expect(!ping(group: nil), "any other process stays in the seed pod network")
        // A stand-in literal (the proxy relays those too) needs no OUTPUT map: routed through tun0, its
        // source leaves as 241.1.3.7, which vpn-shoot routes back through tun0.
        #expect((try? server.exec("ping", "-n", "-c", "1", "-W", "1", "244.0.0.5")) != nil)
    }
}
