import HAVPNModel
import HAVPNPlanner
import Testing

/// Single mode (vpn2's non-HA tunnel): the desired state of the server and the vpn-shoot pod, and plans
/// against a namespace where openvpn's tun0 is absent, down or up.
enum Single {
    static let topology: Topology = {
        var t = Topology()
        t.mode = .single
        t.servers = 1
        t.shootClients = 1
        t.networks.shoot.nodes = [IPNetwork("10.250.0.0/16")!]
        t.networks.seedPods = [IPNetwork("10.1.0.0/16")!]
        return t
    }()
    static let shootNetworks = ["10.250.0.0/16", "100.64.0.0/13", "100.96.0.0/11"].map { IPNetwork($0)! }
    /// What the server routes instead (IPv4 is NETMAPped always, vpn2's whole /8 per kind).
    static let standIns = ["242.0.0.0/8", "243.0.0.0/8", "244.0.0.0/8"].map { IPNetwork($0)! }

    static func desired(_ role: Role, _ topology: Topology = topology) throws -> DesiredState {
        try Planner.desiredState(
            topology: topology,
            identity: Identity(role: role, index: 0),
            inputs: ControllerInputs()
        )
    }

    /// openvpn's tun0 as the kernel reports it: not havpn's (no alias).
    static func tun0(up: Bool = true) -> ObservedLink {
        ObservedLink(spec: LinkSpec(name: "tun0", kind: .tap, mtu: 1500, up: up), owned: false)
    }

    static func route(_ network: IPNetwork) -> RouteSpec { RouteSpec(destination: network, device: "tun0") }
}

@Suite struct SingleModeDesiredStateTests {
    @Test func serverRoutesTheShootNetworksThroughTun0AndOwnsNoLink() throws {
        let d = try Single.desired(.server)
        #expect(d.links.isEmpty)
        #expect(d.addresses.isEmpty)
        #expect(d.externalLinks == ["tun0"])
        #expect(d.routes == Single.standIns.map(Single.route).sorted())
        #expect(d.sysctls.first { $0.key == "net.ipv4.ip_forward" }?.value == "0")
        #expect(d.sysctls.first { $0.key == "net.ipv6.conf.all.forwarding" }?.value == "0")
        #expect(d.sysctls.first { $0.key == "net.ipv6.conf.all.disable_ipv6" }?.value == "0")
        let input = try #require(d.ruleset).rules.filter { $0.chain == .input }
        #expect(input.map(\.name) == ["tun0-replies", "tun0-icmpv6", "tun0-drop"])
        #expect(input.allSatisfy { $0.interface == InterfaceMatch(.incoming, "tun0") })
    }

    @Test func shootRoutesTheSeedPodsThroughTun0AndRoutesAndNATs() throws {
        let d = try Single.desired(.shoot)
        #expect(d.links.isEmpty)
        #expect(d.externalLinks == ["tun0"])
        #expect(d.routes == [Single.route(IPNetwork("241.0.0.0/8")!)])
        #expect(d.sysctls.first { $0.key == "net.ipv4.ip_forward" }?.value == "1")
        #expect(d.sysctls.first { $0.key == "net.ipv6.conf.all.forwarding" }?.value == "1")
        let rules = try #require(d.ruleset).rules
        #expect(rules.filter { $0.chain == .forward }.map(\.interface) == [InterfaceMatch(.incoming, "tun0")])
        #expect(rules.contains { $0.chain == .mss && $0.verdict == .clampMSSToPMTU })
        #expect(rules.contains { $0.chain == .masquerade && $0.interface == InterfaceMatch(.outgoing, "eth0") })
        #expect(!rules.contains { $0.interface?.name == "bond0" })
    }

    @Test func onlyShootNetworksOfTheDeclaredFamiliesAreRouted() throws {
        var t = Single.topology
        t.ipFamilies = [.ipv4, .ipv6]
        t.networks.shoot.pods.append(IPNetwork("fd00:10::/56")!)
        let d = try Single.desired(.server, t)
        #expect(d.routes.map(\.destination).contains(IPNetwork("fd00:10::/56")!))
        #expect(d.routes.count == 4)
    }

    @Test func theTunDeviceNameComesFromTheTopology() throws {
        var t = Single.topology
        t.devices.tun = "vpn0"
        let d = try Single.desired(.server, t)
        #expect(d.externalLinks == ["vpn0"])
        #expect(d.routes.allSatisfy { $0.device == "vpn0" })
        let ruleset = try #require(d.ruleset)
        #expect(ruleset.rules.compactMap(\.interface).allSatisfy { $0.name == "vpn0" })
    }

    @Test func theApiserverRoleIsRefused() {
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try Single.desired(.apiserver) }
    }

    /// HA mode stays as it was: the server role filters on the taps and owns no route.
    @Test func haServerIsUnchanged() throws {
        let d = try Planner.desiredState(
            topology: Topology(),
            identity: Identity(role: .server, index: 0),
            inputs: ControllerInputs()
        )
        #expect(d.routes.isEmpty)
        #expect(d.externalLinks.isEmpty)
        #expect(d.sysctls.map(\.key) == ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"])
        let ruleset = try #require(d.ruleset)
        #expect(ruleset.rules.allSatisfy { $0.interface == InterfaceMatch(.incoming, "tap", isPrefix: true) })
    }
}

@Suite struct SingleModePlanTests {
    private func check(_ plan: Plan, desired: DesiredState, observed: ObservedState) {
        let after = Planner.simulate(plan, on: observed)
        #expect(Planner.plan(desired: desired, observed: after).actions.isEmpty)
        #expect(Laws.convergence(desired: desired, plan: plan, final: after).isEmpty)
        #expect(Laws.ordering(plan, on: observed).isEmpty)
        #expect(Laws.ownership(plan, desired: desired, observed: observed).isEmpty)
    }

    /// Before openvpn created tun0: sysctls and ruleset go in, the routes wait without a conflict.
    @Test func withoutTun0TheRoutesWaitAndNothingIsAConflict() throws {
        let d = try Single.desired(.server)
        let plan = Planner.plan(desired: d, observed: ObservedState())
        #expect(plan.conflicts.isEmpty)
        #expect(!plan.actions.contains { if case .addRoute = $0 { true } else { false } })
        #expect(!plan.actions.contains { if case .createLink = $0 { true } else { false } })
        #expect(plan.waiting.count == 1)
        #expect(plan.waiting[0].hasPrefix("tun0 is absent (openvpn creates it): 3 routes wait"))
        #expect(PlanRenderer.human(plan).contains("# waiting: tun0 is absent"))
        let converged = Planner.simulate(plan, on: ObservedState())
        #expect(
            PlanRenderer.human(Planner.plan(desired: d, observed: converged)).hasSuffix(
                "No changes. Routes wait for a device openvpn has not brought up (see above).\n"
            )
        )
        #expect(PlanRenderer.json(plan).contains("\"waiting\":[\"tun0 is absent"))
        check(plan, desired: d, observed: ObservedState())
    }

    @Test func aDownTun0HoldsTheRoutesToo() throws {
        let d = try Single.desired(.shoot)
        let observed = ObservedState(links: [Single.tun0(up: false)])
        let plan = Planner.plan(desired: d, observed: observed)
        #expect(plan.conflicts.isEmpty)
        #expect(plan.waiting == ["tun0 is down (openvpn creates it): 1 route waits for it (241.0.0.0/8)"])
        // havpn does not set openvpn's device up either.
        #expect(!plan.actions.contains { if case .setLink = $0 { true } else { false } })
        check(plan, desired: d, observed: observed)
    }

    @Test func onceTun0IsUpTheRoutesAreAddedWithHavpnsProtocol() throws {
        let d = try Single.desired(.server)
        let observed = ObservedState(links: [Single.tun0()])
        let plan = Planner.plan(desired: d, observed: observed)
        let routes = plan.actions.compactMap { if case .addRoute(let r) = $0 { r } else { nil } }
        #expect(routes == Single.standIns.map(Single.route).sorted())
        #expect(plan.waiting.isEmpty)
        check(plan, desired: d, observed: observed)
        let converged = Planner.simulate(plan, on: observed)
        #expect(converged.routes.allSatisfy { $0.routeProtocol == havpnRouteProtocol })
        // Converged: empty, and tun0 is still openvpn's (never adopted).
        let again = Planner.plan(desired: d, observed: converged)
        #expect(again.isEmpty && again.waiting.isEmpty && again.conflicts.isEmpty)
        #expect(converged.links.first { $0.spec.name == "tun0" }?.owned == false)
    }

    @Test func aDeletedRouteIsRepairedAndAForeignOneIsAConflict() throws {
        let d = try Single.desired(.server)
        let observed = ObservedState(links: [Single.tun0()])
        var converged = Planner.simulate(Planner.plan(desired: d, observed: observed), on: observed)
        converged.routes.removeAll { $0.spec.destination == IPNetwork("244.0.0.0/8")! }
        converged.routes.append(
            ObservedRoute(spec: Single.route(IPNetwork("244.0.0.0/8")!), routeProtocol: 4)  // proto static
        )
        let plan = Planner.plan(desired: d, observed: converged)
        #expect(plan.actions.isEmpty)
        #expect(plan.conflicts.count == 1)
        converged.routes.removeAll { $0.spec.destination == IPNetwork("244.0.0.0/8")! }
        #expect(
            Planner.plan(desired: d, observed: converged).actions == [
                .addRoute(Single.route(IPNetwork("244.0.0.0/8")!))
            ]
        )
    }

    /// An owned link called tun0 (left by an HA-mode havpn, say) is still pruned: only undeclared links
    /// that are havpn's go; openvpn's unowned tun0 survives every plan (ownership law above).
    @Test func openvpnsTun0IsNeverDeleted() throws {
        let d = try Single.desired(.shoot)
        let stale = ObservedLink(spec: LinkSpec(name: "bond0", kind: .other("bond")), owned: true)
        let observed = ObservedState(links: [Single.tun0(), stale])
        let plan = Planner.plan(desired: d, observed: observed)
        #expect(plan.actions.contains(.deleteLink(name: "bond0", kind: "bond")))
        #expect(!plan.actions.contains { if case .deleteLink("tun0", _) = $0 { true } else { false } })
        check(plan, desired: d, observed: observed)
    }
}
