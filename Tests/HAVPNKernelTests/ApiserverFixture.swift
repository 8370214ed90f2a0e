import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner

/// The apiserver-side (seed) data plane of vpn2's HA mode, written out by hand: two taps in an
/// active-backup bond with vpn2's options, the bond address, two ip6tnl tunnels to the shoot
/// clients' bond addresses, and the shoot networks routed through tunnel 0.
enum ApiserverFixture {
    static let bondOptions = BondSpec(
        mode: .activeBackup,
        miimon: 100,
        failOverMAC: .active,
        useCarrier: true,
        primary: "tap0",
        numPeerNotif: 5
    )
    static let bondAddress = ipv6("fd8f:6d53:b97a:1::a:1")

    static func tunnel(_ index: Int, remote: String? = nil) -> LinkSpec {
        LinkSpec(
            name: "bond0-ip6tnl\(index)",
            kind: .ip6tnl(TunnelSpec(local: bondAddress, remote: ipv6(remote ?? "fd8f:6d53:b97a:1::b:\(index)")))
        )
    }

    static let links: [LinkSpec] = [
        LinkSpec(name: "tap0", kind: .tap, master: "bond0", mtu: 1400),
        LinkSpec(name: "tap1", kind: .tap, master: "bond0", mtu: 1400),
        LinkSpec(name: "bond0", kind: .bond(bondOptions), mtu: 1400),
        tunnel(0),
        tunnel(1),
    ]

    static let address = AddressSpec(device: "bond0", address: .v6(bondAddress), prefixLength: 104, nodad: true)

    static let routes: [RouteSpec] = [
        RouteSpec(destination: net("100.64.0.0/13"), device: "bond0-ip6tnl0"),
        RouteSpec(destination: net("100.96.0.0/11"), device: "bond0-ip6tnl0"),
    ]

    static let sysctls = [
        SysctlSpec("net.ipv4.conf.all.rp_filter", "0"), SysctlSpec("net.ipv4.tcp_rmem", "65536 131072 6291456"),
    ]

    static let desired = DesiredState(links: links, addresses: [address], routes: routes, sysctls: sysctls)

    /// The creation plan, in dependency order, as the planner would emit it.
    static var creation: [PlanAction] {
        var actions: [PlanAction] = sysctls.map { .setSysctl(key: $0.key, from: nil, to: $0.value) }
        let taps = links.filter { $0.kind == .tap }
        actions += taps.map { .createLink($0) }
        actions.append(.createLink(links[2]))
        actions += taps.map { .setLink(name: $0.name, change: .master("bond0"), from: "none") }
        actions += taps.map { .setLink(name: $0.name, change: .up(true), from: "down") }
        actions.append(.setLink(name: "bond0", change: .up(true), from: "down"))
        actions.append(.addAddress(address))
        actions += [tunnel(0), tunnel(1)].map { .createLink($0) }
        actions += [tunnel(0), tunnel(1)].map { .setLink(name: $0.name, change: .up(true), from: "down") }
        actions += routes.map { .addRoute($0) }
        return actions
    }
}
