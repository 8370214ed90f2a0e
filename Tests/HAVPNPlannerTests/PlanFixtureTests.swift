import HAVPNModel
import HAVPNPlanner
import Testing

extension PlanFixture {
    static let all: [PlanFixture] = {
        let desired = Fx.apiserver()
        let converged = Fx.converged(desired)
        let sysctlKeys = [
            "net.ipv4.conf.all.log_martians", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.log_martians",
            "net.ipv4.conf.default.rp_filter", "net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6",
        ]
        let reEnslaveAndUp: [PlanAction] = [
            .setLink(name: "tap0", change: .master("bond0"), from: "none"),
            .setLink(name: "tap1", change: .master("bond0"), from: "none"),
            .setLink(name: "tap0", change: .up(true), from: "down"),
            .setLink(name: "tap1", change: .up(true), from: "down"),
            .setLink(name: "bond0", change: .up(true), from: "down"),
        ]
        let eth0 = ObservedLink(spec: LinkSpec(name: "eth0", kind: .other("veth"), mtu: 1500), owned: false)
        let shootWithOnePeer = Fx.shoot(peers: [Fx.peer(1, "10.0.0.1")])

        return [
            PlanFixture(
                name: "empty namespace → full apiserver fabric",
                observed: ObservedState(),
                desired: desired,
                expected: sysctlKeys.map { .setSysctl(key: $0, from: nil, to: "0") } + [
                    .createLink(LinkSpec(name: "tap0", kind: .tap, up: false)),
                    .createLink(LinkSpec(name: "tap1", kind: .tap, up: false)),
                    .createLink(LinkSpec(name: "bond0", kind: .bond(Fx.bond), up: false)),
                ] + reEnslaveAndUp + [
                    .addAddress(Fx.bondAddress),
                    .createLink(LinkSpec(name: "bond0-ip6tnl0", kind: .ip6tnl(Fx.tunnel(0)), up: false)),
                    .createLink(LinkSpec(name: "bond0-ip6tnl1", kind: .ip6tnl(Fx.tunnel(1)), up: false)),
                    .setLink(name: "bond0-ip6tnl0", change: .up(true), from: "down"),
                    .setLink(name: "bond0-ip6tnl1", change: .up(true), from: "down"),
                    .addRoute(Fx.route(Fx.services, "bond0-ip6tnl0")),
                    .addRoute(Fx.route(Fx.pods, "bond0-ip6tnl0")),
                    .setRulesetChain(.input, from: [], to: desired.ruleset!.fingerprint[.input]!),
                ]
            ),
            PlanFixture(name: "converged → empty plan", observed: converged, desired: desired, expected: []),
            PlanFixture(
                name: "bond miimon drift is changed in place",
                observed: converged.link("bond0") {
                    guard case .bond(var b) = $0.spec.kind else { return }
                    b.miimon = 200
                    $0.spec.kind = .bond(b)
                },
                desired: desired,
                expected: [.setLink(name: "bond0", change: .bondMiimon(100), from: "200")]
            ),
            PlanFixture(
                name: "bond mode change recreates the bond, re-enslaves and re-addresses",
                observed: converged.link("bond0") {
                    $0.spec.kind = .bond(
                        BondSpec(
                            mode: .balanceRR,
                            miimon: 100,
                            failOverMAC: .active,
                            useCarrier: true,
                            primary: nil,
                            numPeerNotif: 5
                        )
                    )
                },
                desired: desired,
                expected: [
                    .deleteLink(name: "bond0", kind: "bond"),
                    .createLink(LinkSpec(name: "bond0", kind: .bond(Fx.bond), up: false)),
                ] + reEnslaveAndUp + [.addAddress(Fx.bondAddress)]
            ),
            PlanFixture(
                name: "tunnel with a wrong remote gets its endpoints set",
                observed: converged.link("bond0-ip6tnl1") {
                    $0.spec.kind = .ip6tnl(
                        TunnelSpec(local: Fx.apiserverAddress, remote: Fx.addressPlan.shootClientBondAddress(5))
                    )
                },
                desired: desired,
                expected: [
                    .setLink(
                        name: "bond0-ip6tnl1",
                        change: .tunnelEndpoints(Fx.tunnel(1)),
                        from: "local fd8f:6d53:b97a:1::a:1 remote fd8f:6d53:b97a:1::b:5"
                    )
                ]
            ),
            PlanFixture(
                name: "a deleted route is added back",
                observed: converged.with { $0.routes.removeAll { $0.spec.destination == Fx.pods } },
                desired: desired,
                expected: [.addRoute(Fx.route(Fx.pods, "bond0-ip6tnl0"))]
            ),
            PlanFixture(
                name: "an extra owned route is deleted",
                observed: converged.with {
                    $0.routes.append(
                        ObservedRoute(
                            spec: Fx.route(IPNetwork("10.99.0.0/16")!, "bond0-ip6tnl1"),
                            routeProtocol: havpnRouteProtocol
                        )
                    )
                },
                desired: desired,
                expected: [.deleteRoute(Fx.route(IPNetwork("10.99.0.0/16")!, "bond0-ip6tnl1"))]
            ),
            PlanFixture(
                name: "foreign link, addresses and routes survive untouched",
                observed: converged.with {
                    $0.links.append(eth0)
                    $0.addresses += [
                        ObservedAddress(
                            spec: AddressSpec(
                                device: "bond0",
                                address: IPAddress("fe80::1")!,
                                prefixLength: 64,
                                nodad: false
                            ),
                            owned: false
                        ),
                        ObservedAddress(
                            spec: AddressSpec(
                                device: "bond0",
                                address: IPAddress("192.0.2.1")!,
                                prefixLength: 24,
                                nodad: false
                            ),
                            owned: false
                        ),
                    ]
                    $0.routes += [
                        ObservedRoute(spec: Fx.route(IPNetwork("10.0.0.0/8")!, "eth0"), routeProtocol: Fx.staticProto),
                        ObservedRoute(
                            spec: Fx.route(IPNetwork("fd8f:6d53:b97a:1::/104")!, "bond0", metric: 256),
                            routeProtocol: Fx.kernelProto
                        ),
                    ]
                },
                desired: desired,
                expected: []
            ),
            PlanFixture(
                name: "a desired route held by a foreign route is a conflict, not a replacement",
                observed: converged.with {
                    $0.links.append(eth0)
                    $0.routes.removeAll { $0.spec.destination == Fx.services }
                    $0.routes.append(ObservedRoute(spec: Fx.route(Fx.services, "eth0"), routeProtocol: Fx.staticProto))
                },
                desired: desired,
                expected: [],
                conflicts: ["route 100.64.0.0/13 metric 0 is held by a foreign route (dev eth0 proto 4)"]
            ),
            PlanFixture(
                name: "path switch is one replaceRoute per shoot network",
                observed: converged,
                desired: Fx.apiserver(active: 1),
                expected: [
                    .replaceRoute(
                        from: Fx.route(Fx.services, "bond0-ip6tnl0"),
                        to: Fx.route(Fx.services, "bond0-ip6tnl1")
                    ),
                    .replaceRoute(from: Fx.route(Fx.pods, "bond0-ip6tnl0"), to: Fx.route(Fx.pods, "bond0-ip6tnl1")),
                ]
            ),
            PlanFixture(
                name: "a stale owned tunnel is pruned, its routes go with it",
                observed: converged.with {
                    $0.links.append(
                        ObservedLink(spec: LinkSpec(name: "bond0-ip6tnl5", kind: .ip6tnl(Fx.tunnel(5))), owned: true)
                    )
                    $0.routes.append(
                        ObservedRoute(
                            spec: Fx.route(IPNetwork("10.5.0.0/16")!, "bond0-ip6tnl5"),
                            routeProtocol: havpnRouteProtocol
                        )
                    )
                },
                desired: desired,
                expected: [.deleteLink(name: "bond0-ip6tnl5", kind: "ip6tnl")]
            ),
            PlanFixture(
                name: "an existing unowned bond0 is adopted, then managed",
                observed: converged.link("bond0") {
                    $0.owned = false
                    $0.spec.up = false
                },
                desired: desired,
                expected: [
                    .setLink(name: "bond0", change: .adopt, from: "unowned"),
                    .setLink(name: "bond0", change: .up(true), from: "down"),
                ]
            ),
            PlanFixture(
                name: "a stale owned address is deleted, a foreign one kept",
                observed: converged.with {
                    $0.addresses += [
                        ObservedAddress(
                            spec: AddressSpec(
                                device: "bond0",
                                address: .v6(Fx.addressPlan.apiserverBondAddress(9)),
                                prefixLength: 104
                            ),
                            owned: true
                        ),
                        ObservedAddress(
                            spec: AddressSpec(
                                device: "bond0",
                                address: .v6(Fx.addressPlan.apiserverBondAddress(8)),
                                prefixLength: 104
                            ),
                            owned: false
                        ),
                    ]
                },
                desired: desired,
                expected: [
                    .deleteAddress(
                        AddressSpec(
                            device: "bond0",
                            address: .v6(Fx.addressPlan.apiserverBondAddress(9)),
                            prefixLength: 104
                        )
                    )
                ]
            ),
            PlanFixture(
                name: "a released, down tap is re-enslaved before it is set up",
                observed: converged.link("tap1") {
                    $0.spec.master = nil
                    $0.spec.up = false
                },
                desired: desired,
                expected: [
                    .setLink(name: "tap1", change: .master("bond0"), from: "none"),
                    .setLink(name: "tap1", change: .up(true), from: "down"),
                ]
            ),
            PlanFixture(
                name: "an unowned tap0 of the wrong kind is recreated",
                observed: converged.link("tap0") {
                    $0.owned = false
                    $0.spec.kind = .other("dummy")
                },
                desired: desired,
                expected: [
                    .deleteLink(name: "tap0", kind: "dummy"),
                    .createLink(LinkSpec(name: "tap0", kind: .tap, up: false)),
                    .setLink(name: "tap0", change: .master("bond0"), from: "none"),
                    .setLink(name: "tap0", change: .up(true), from: "down"),
                ]
            ),
            PlanFixture(
                name: "sysctl drift is set back, an absent one is set",
                observed: converged.with {
                    $0.sysctls["net.ipv4.conf.all.rp_filter"] = "1\n"
                    $0.sysctls["net.ipv6.conf.all.disable_ipv6"] = nil
                },
                desired: desired,
                expected: [
                    .setSysctl(key: "net.ipv4.conf.all.rp_filter", from: "1\n", to: "0"),
                    .setSysctl(key: "net.ipv6.conf.all.disable_ipv6", from: nil, to: "0"),
                ]
            ),
            PlanFixture(
                name: "shoot: a newly announced apiserver gets a tunnel and a back route",
                observed: Fx.converged(shootWithOnePeer),
                desired: Fx.shoot(peers: [Fx.peer(1, "10.0.0.1"), Fx.peer(0x2a, "10.0.0.2")]),
                expected: [
                    .createLink(
                        LinkSpec(
                            name: "bond0ip6tnl002a",
                            kind: .ip6tnl(
                                TunnelSpec(local: Fx.shootAddress, remote: Fx.addressPlan.apiserverBondAddress(0x2a))
                            ),
                            up: false
                        )
                    ),
                    .setLink(name: "bond0ip6tnl002a", change: .up(true), from: "down"),
                    .addRoute(Fx.route(IPNetwork("10.0.0.2/32")!, "bond0ip6tnl002a")),
                ]
            ),
            PlanFixture(
                name: "shoot: a withdrawn apiserver's tunnel is pruned",
                observed: Fx.converged(Fx.shoot(peers: [Fx.peer(1, "10.0.0.1"), Fx.peer(0x2a, "10.0.0.2")])),
                desired: shootWithOnePeer,
                expected: [.deleteLink(name: "bond0ip6tnl002a", kind: "ip6tnl")]
            ),
        ]
    }()
}

@Suite struct PlanFixtureTests {
    @Test(arguments: PlanFixture.all)
    func fixture(_ f: PlanFixture) {
        let plan = Planner.plan(desired: f.desired, observed: f.observed)
        #expect(plan.actions == f.expected, "\n\(PlanRenderer.human(plan))")
        #expect(plan.conflicts.count == f.conflicts.count)
        for (conflict, text) in zip(plan.conflicts, f.conflicts) {
            #expect(conflict.code == .conflict)
            #expect(conflict.message.contains(text), "\(conflict.message)")
        }
        // Every fixture also obeys the laws.
        let after = Planner.simulate(plan, on: f.observed)
        #expect(Planner.plan(desired: f.desired, observed: after).actions.isEmpty)
        #expect(Laws.convergence(desired: f.desired, plan: plan, final: after).isEmpty)
        #expect(Laws.ordering(plan, on: f.observed).isEmpty)
        #expect(Laws.ownership(plan, desired: f.desired, observed: f.observed).isEmpty)
    }

    @Test func atLeastTenFixtures() { #expect(PlanFixture.all.count >= 10) }
}
