import Foundation
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// In-place changes and deletions on a built apiserver data plane.
@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct ChangeTests {
    private func built() throws -> (TestNamespace, NetlinkClient) {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)
        return (ns, client)
    }

    private func link(_ name: String, _ client: NetlinkClient) throws -> LinkSpec {
        try #require(try client.observe(declaredLinks: [], sysctlKeys: []).links.first { $0.spec.name == name }).spec
    }

    @Test func bondOptionsChangeInPlace() throws {
        let (ns, client) = try built()
        let before = try ns.linkDetails("bond0").link["ifindex"] as? Int
        _ = try client.apply([
            .setLink(name: "bond0", change: .bondMiimon(200), from: "100"),
            .setLink(name: "bond0", change: .bondNumPeerNotif(3), from: "5"),
            .setLink(name: "bond0", change: .bondUseCarrier(false), from: "true"),
            .setLink(name: "bond0", change: .bondPrimary("tap1"), from: "tap0"),
        ])
        var expected = ApiserverFixture.bondOptions
        expected.miimon = 200
        expected.numPeerNotif = 3
        expected.useCarrier = false
        expected.primary = "tap1"
        #expect(try link("bond0", client).kind == .bond(expected))
        let details = try ns.linkDetails("bond0")
        #expect(details.link["ifindex"] as? Int == before)  // same link, not recreated
        #expect(details.data["miimon"] as? Int == 200)
        #expect(details.data["primary"] as? String == "tap1")
    }

    @Test func tunnelEndpointsChangeInPlaceAndKeepModeAnyEncaplimitNone() throws {
        let (ns, client) = try built()
        let moved = TunnelSpec(local: ApiserverFixture.bondAddress, remote: ipv6("fd8f:6d53:b97a:1::b:9"))
        _ = try client.apply([.setLink(name: "bond0-ip6tnl1", change: .tunnelEndpoints(moved), from: "::b:1")])
        #expect(try link("bond0-ip6tnl1", client).kind == .ip6tnl(moved))
        let data = try ns.linkDetails("bond0-ip6tnl1").data
        #expect(data["remote"] as? String == "fd8f:6d53:b97a:1::b:9")
        #expect(data["proto"] as? String == "any")
        #expect(data["ip6_tnl_f_ign_encap_limit"] as? Bool == true)
    }

    @Test func replaceRouteMovesItToAnotherTunnel() throws {
        let (ns, client) = try built()
        let old = ApiserverFixture.routes[0]
        var new = old
        new.device = "bond0-ip6tnl1"
        let report = try client.apply([.replaceRoute(from: old, to: new)])
        #expect(report.applied.count == 1)
        let owned = try client.observe(declaredLinks: [], sysctlKeys: []).routes.filter(\.owned).map(\.spec)
        #expect(Set(owned) == [new, ApiserverFixture.routes[1]])
        let shown = try ns.ipJSON("route", "show", "100.64.0.0/13")
        #expect(shown.count == 1 && shown.first?["dev"] as? String == "bond0-ip6tnl1")
    }

    @Test func linkMTUUpDownAndRelease() throws {
        let (_, client) = try built()
        _ = try client.apply([
            .setLink(name: "bond0-ip6tnl0", change: .mtu(1300), from: "1452"),
            .setLink(name: "bond0-ip6tnl0", change: .up(false), from: "up"),
            .setLink(name: "tap1", change: .master(nil), from: "bond0"),
        ])
        let tunnel = try link("bond0-ip6tnl0", client)
        #expect(tunnel.mtu == 1300 && !tunnel.up)
        #expect(try link("tap1", client).master == nil)
    }

    @Test func deletionsRemoveOnlyWhatTheyName() throws {
        let (_, client) = try built()
        let v6Route = RouteSpec(destination: net("fd00:10::/64"), device: "bond0-ip6tnl1")
        _ = try client.apply([.addRoute(v6Route)])
        let report = try client.apply([
            .deleteRoute(ApiserverFixture.routes[1]),
            .deleteRoute(v6Route),
            .deleteAddress(ApiserverFixture.address),
            .deleteLink(name: "bond0-ip6tnl1", kind: "ip6tnl"),
            .deleteLink(name: "tap1", kind: "tap"),
        ])
        #expect(report.succeeded && report.applied.count == 5)
        let observed = try client.observe(declaredLinks: ["bond0"], sysctlKeys: [])
        #expect(observed.routes.filter(\.owned).map(\.spec) == [ApiserverFixture.routes[0]])
        #expect(!observed.addresses.contains { $0.owned })
        let names = Set(observed.links.map(\.spec.name))
        #expect(!names.contains("bond0-ip6tnl1") && !names.contains("tap1"))
        #expect(names.isSuperset(of: ["tap0", "bond0", "bond0-ip6tnl0"]))

        // Deleting the bond releases its slave; then the tap can go too.
        _ = try client.apply([.deleteLink(name: "bond0", kind: "bond"), .deleteLink(name: "tap0", kind: "tap")])
        let after = Set(try client.observe(declaredLinks: [], sysctlKeys: []).links.map(\.spec.name))
        #expect(after.isDisjoint(with: ["bond0", "tap0"]))
    }

    @Test func ipv6RoutesRoundTripWithAndWithoutMetric() throws {
        let (ns, client) = try built()
        let routes = [
            RouteSpec(destination: net("fd00:1::/64"), device: "bond0-ip6tnl0"),
            RouteSpec(destination: net("fd00:2::/64"), device: "bond0-ip6tnl0", metric: 50),
            RouteSpec(destination: net("10.250.0.0/16"), device: "bond0-ip6tnl1", metric: 7),
        ]
        _ = try client.apply(routes.map { .addRoute($0) })
        let owned = Set(try client.observe(declaredLinks: [], sysctlKeys: []).routes.filter(\.owned).map(\.spec))
        #expect(owned.isSuperset(of: routes))
        let shown = try ns.ipJSON("-6", "route", "show", "proto", "201")
        #expect(shown.contains { $0["dst"] as? String == "fd00:1::/64" && $0["metric"] as? Int == 1024 })
        _ = try client.apply(routes.map { .deleteRoute($0) })
        let left = Set(try client.observe(declaredLinks: [], sysctlKeys: []).routes.filter(\.owned).map(\.spec))
        #expect(left.isDisjoint(with: routes))
    }
}
