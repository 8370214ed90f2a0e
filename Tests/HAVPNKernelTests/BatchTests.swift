import Foundation
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNTestSupport
import Testing

@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct BatchTests {
    /// `count` distinct /24s in 10.0.0.0/8 (IPv4) or /64s in fd00::/16 (IPv6).
    static func routes(_ count: Int, device: String, ipv6: Bool = false) -> [RouteSpec] {
        (0..<count).map { i in
            let text =
                ipv6
                ? "fd00:\(String(i / 256, radix: 16)):\(String(i % 256, radix: 16))::/64"
                : "10.\(i / 256).\(i % 256).0/24"
            return RouteSpec(destination: net(text), device: device)
        }
    }

    @Test func twoThousandRoutesInOneBatchWithOneBadRouteInTheMiddle() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)
        let routes = Self.routes(1000, device: "bond0-ip6tnl0") + Self.routes(1000, device: "bond0-ip6tnl1", ipv6: true)
        var actions = routes.map { PlanAction.addRoute($0) }
        let duplicate = routes[700]  // already added by then: EEXIST
        actions.insert(.addRoute(duplicate), at: 1000)

        var report = ApplyReport()
        let error = try #require(throws: HAVPNError.self) { try client.apply(actions, report: &report) }
        #expect(error.code == .kernel && error.errno == EEXIST)
        #expect(error.object == "route 10.2.188.0/24 dev bond0-ip6tnl0")
        #expect(report.failures.map(\.action) == [.addRoute(duplicate)])
        #expect(report.applied.count == 2000)
        // Batched: far fewer sends than requests, and one ack per send, not per request.
        #expect(report.netlinkRequests >= 2001 && report.netlinkSends < 20)
        #expect(report.netlinkReceives < 20)

        let owned = try client.observe(declaredLinks: [], sysctlKeys: []).routes.filter(\.owned)
        #expect(owned.count == 2000 + ApiserverFixture.routes.count)
        #expect(Set(owned.map(\.spec)).isSuperset(of: routes))
    }

    /// Only a send's last request asks for an ack; the others are answered only when they fail.
    /// Failures first, in the middle and last in one send all reach their own actions, and
    /// every request between them counts as applied (and is in the kernel).
    @Test func failuresAnywhereInOneSendReachTheirActions() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)
        // 15 requests: below the smallest window a send takes (16), so all of them share one send.
        let fresh = Self.routes(12, device: "bond0-ip6tnl1")
        let held = ApiserverFixture.routes  // in the kernel already: EEXIST
        let actions =
            [PlanAction.addRoute(held[0])] + fresh[..<6].map { .addRoute($0) } + [.addRoute(held[1])]
            + fresh[6...].map { .addRoute($0) } + [.addRoute(held[0])]

        var report = ApplyReport()
        let error = try #require(throws: HAVPNError.self) { try client.apply(actions, report: &report) }
        #expect(error.errno == EEXIST)
        #expect(report.failures.map(\.action) == [.addRoute(held[0]), .addRoute(held[1]), .addRoute(held[0])])
        #expect(report.failures.allSatisfy { $0.error.errno == EEXIST })
        #expect(report.applied == fresh.map { .addRoute($0) })
        #expect(report.netlinkSends <= 2, "the link index's dump, and one send for the 15 requests")
        let owned = try client.observe(declaredLinks: [], sysctlKeys: []).routes.filter(\.owned).map(\.spec)
        #expect(Set(owned).isSuperset(of: fresh))
    }

    /// The benchmark's shape: 100 tunnels and 10,000 routes, havpn against `ip -batch`.
    @Test func tenThousandRoutesAndHundredTunnelsAgainstIPBatch() throws {
        let local = "fd8f:6d53:b97a:1::a:1"
        let tunnels = (0..<100).map {
            LinkSpec(
                name: "t\($0)",
                kind: .ip6tnl(TunnelSpec(local: ipv6(local), remote: ipv6("fd8f:6d53:b97a:1::b:\($0)")))
            )
        }
        let routes = (0..<10_000).map { i in
            RouteSpec(destination: net("10.\(i / 256).\(i % 256).0/24"), device: "t\(i % 100)")
        }
        var actions = tunnels.map { PlanAction.createLink($0) }
        actions += tunnels.map { .setLink(name: $0.name, change: .up(true), from: "down") }
        actions += routes.map { .addRoute($0) }

        let havpnNS = try TestNamespace()
        let client = try havpnNS.client()
        let clock = ContinuousClock()
        let havpnStart = clock.now
        let report = try client.apply(actions)
        let observed = try client.observe(declaredLinks: [], sysctlKeys: [])
        let havpnTime = clock.now - havpnStart
        #expect(observed.routes.filter(\.owned).count == 10_000)

        let ipNS = try TestNamespace()
        var script = tunnels.map {
            "link add \($0.name) type ip6tnl mode any local \(local) remote fd8f:6d53:b97a:1::b:\($0.name.dropFirst()) encaplimit none\n"
        }
        script += tunnels.map { "link set \($0.name) up\n" }
        script += routes.map { "route add \($0.destination) dev \($0.device) proto 201\n" }
        let path = "/tmp/\(ipNS.name).batch"
        try script.joined().write(toFile: path, atomically: false, encoding: .utf8)
        defer { unlink(path) }
        let ipStart = clock.now
        try ipNS.ip("-batch", path)
        let ipTime = clock.now - ipStart
        print(
            "benchmark: havpn apply+observe \(havpnTime) (apply \(report.duration), \(report.netlinkSends) sends); ip -batch \(ipTime)"
        )
        #expect(havpnTime < ipTime)
    }
}
