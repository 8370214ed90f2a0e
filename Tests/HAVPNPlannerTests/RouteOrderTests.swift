import HAVPNModel
import Testing

@testable import HAVPNPlanner

/// The planner sorts routes by integer keys, moving indices (``RouteOrderKey``); the result must be
/// what the Comparable orders and a `Set` gave before: same order, same duplicates dropped.
@Suite struct RouteOrderTests {
    /// Routes drawn from a small pool, so keys, devices and protocols repeat: IPv4 and IPv6, host
    /// routes and prefixes, metrics 0 and 100, two devices, havpn's protocol and the kernel's.
    static func routes(seed: UInt64, count: Int) -> [ObservedRoute] {
        var state = seed
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let destinations = [
            "10.0.0.0/8", "10.0.0.1/32", "10.0.0.2/32", "0.0.0.0/0", "255.255.255.255/32", "::/0", "fd00::/64",
            "fd00::1/128", "::1/128", "ffff::/16",
        ].map { IPNetwork($0)! }
        return (0..<count).map { _ in
            ObservedRoute(
                spec: RouteSpec(
                    destination: destinations[next(destinations.count)],
                    device: ["bond0", "bond0-ip6tnl0"][next(2)],
                    metric: [0, 100][next(2)]
                ),
                routeProtocol: [havpnRouteProtocol, 2][next(2)]
            )
        }
    }

    @Test(arguments: 0..<200 as Range<UInt64>)
    func observedRoutesAreSortedAndDeduplicatedAsBefore(seed: UInt64) {
        let routes = Self.routes(seed: seed, count: Int(seed % 40))
        let before = Array(Set(routes)).sorted { ($0.spec, $0.routeProtocol) < ($1.spec, $1.routeProtocol) }
        #expect(Planner.normalized(ObservedState(routes: routes)).routes == before)
    }

    @Test(arguments: 0..<200 as Range<UInt64>)
    func desiredRoutesAreSortedAsBefore(seed: UInt64) {
        let specs = Self.routes(seed: seed, count: Int(seed % 40)).map(\.spec)
        let sorted = specs.sortedByIndices(
            key: { RouteOrderKey($0.destination, metric: $0.metric) },
            tieBreak: { $0.device < $1.device }
        )
        #expect(sorted == specs.sorted())
    }

    @Test(arguments: 0..<200 as Range<UInt64>)
    func routeKeysHashAlikeWhenEqual(seed: UInt64) {
        let keys = Self.routes(seed: seed, count: 30).map(\.spec.key)
        for a in keys { for b in keys where a == b { #expect(a.hashValue == b.hashValue) } }
        #expect(Set(keys).count == Set(keys.map { "\($0.destination) \($0.metric)" }).count)
    }
}
