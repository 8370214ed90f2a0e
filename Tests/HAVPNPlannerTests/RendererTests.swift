import HAVPNModel
import HAVPNPlanner
import Testing

@Suite struct RendererTests {
    @Test func humanGoldenFullApiserverPlan() {
        let plan = Planner.plan(desired: Fx.apiserver(), observed: ObservedState())
        #expect(
            PlanRenderer.human(plan) == """
                ~ sysctl net.ipv4.conf.all.log_martians: (unset) → 0
                ~ sysctl net.ipv4.conf.all.rp_filter: (unset) → 0
                ~ sysctl net.ipv4.conf.default.log_martians: (unset) → 0
                ~ sysctl net.ipv4.conf.default.rp_filter: (unset) → 0
                ~ sysctl net.ipv6.conf.all.disable_ipv6: (unset) → 0
                ~ sysctl net.ipv6.conf.default.disable_ipv6: (unset) → 0
                + link tap0 (tap)
                + link tap1 (tap)
                + link bond0 (bond active-backup, miimon 100, fail_over_mac active, use_carrier 1, primary tap0, num_peer_notif 5)
                ~ link tap0: master none → bond0
                ~ link tap1: master none → bond0
                ~ link tap0: state down → up
                ~ link tap1: state down → up
                ~ link bond0: state down → up
                + address fd8f:6d53:b97a:1::a:1/104 dev bond0 nodad
                + link bond0-ip6tnl0 (ip6tnl local fd8f:6d53:b97a:1::a:1 remote fd8f:6d53:b97a:1::b:0)
                + link bond0-ip6tnl1 (ip6tnl local fd8f:6d53:b97a:1::a:1 remote fd8f:6d53:b97a:1::b:1)
                ~ link bond0-ip6tnl0: state down → up
                ~ link bond0-ip6tnl1: state down → up
                + route 100.64.0.0/13 dev bond0-ip6tnl0
                + route 100.96.0.0/11 dev bond0-ip6tnl0
                + ruleset chain input (bond0-ipip, bond0-ip6ip6, bond0-replies, bond0-icmpv6, bond0-drop, bond0-ip6tnl+-replies, bond0-ip6tnl+-icmpv6, bond0-ip6tnl+-drop)
                Plan: 9 to add, 6 to change, 0 to destroy.

                """
        )
    }

    func pathSwitchPlan() -> Plan {
        var drift = Fx.converged(Fx.apiserver())
        drift.routes.append(
            ObservedRoute(spec: Fx.route(IPNetwork("10.0.0.0/8")!, "bond0-ip6tnl1"), routeProtocol: havpnRouteProtocol)
        )
        return Planner.plan(desired: Fx.apiserver(active: 1), observed: drift)
    }

    @Test func humanGoldenPathSwitch() {
        #expect(
            PlanRenderer.human(pathSwitchPlan()) == """
                - route 10.0.0.0/8 dev bond0-ip6tnl1
                ~ route 100.64.0.0/13: dev bond0-ip6tnl0 → bond0-ip6tnl1
                ~ route 100.96.0.0/11: dev bond0-ip6tnl0 → bond0-ip6tnl1
                Plan: 0 to add, 2 to change, 1 to destroy.

                """
        )
    }

    @Test func jsonGoldenPathSwitch() {
        #expect(
            PlanRenderer.json(pathSwitchPlan())
                == #"{"actions":[{"op":"delete","object":"route","destination":"10.0.0.0/8","device":"bond0-ip6tnl1","metric":0},{"op":"replace","object":"route","destination":"100.64.0.0/13","metric":0,"fromDevice":"bond0-ip6tnl0","device":"bond0-ip6tnl1"},{"op":"replace","object":"route","destination":"100.96.0.0/11","metric":0,"fromDevice":"bond0-ip6tnl0","device":"bond0-ip6tnl1"}],"summary":{"add":0,"change":2,"destroy":1},"conflicts":[]}"#
                + "\n"
        )
    }

    @Test func singleLines() {
        #expect(
            PlanRenderer.line(.setSysctl(key: "net.ipv4.ip_forward", from: "0", to: "1"))
                == "~ sysctl net.ipv4.ip_forward: 0 → 1"
        )
        #expect(
            PlanRenderer.line(.setLink(name: "bond0", change: .bondMiimon(100), from: "200"))
                == "~ link bond0: miimon 200 → 100"
        )
        #expect(
            PlanRenderer.line(.deleteLink(name: "bond0-ip6tnl5", kind: "ip6tnl")) == "- link bond0-ip6tnl5 (ip6tnl)"
        )
        #expect(
            PlanRenderer.line(.createLink(LinkSpec(name: "tap0", kind: .tap, mtu: 1400, up: false)))
                == "+ link tap0 (tap, mtu 1400)"
        )
        #expect(
            PlanRenderer.line(.addRoute(Fx.route(IPNetwork("fd00::7/128")!, "bond0ip6tnl002a", metric: 1024)))
                == "+ route fd00::7/128 dev bond0ip6tnl002a metric 1024"
        )
        #expect(
            PlanRenderer.line(.setLink(name: "bond0", change: .adopt, from: "unowned"))
                == "~ link bond0: owner unowned → havpn"
        )
    }

    @Test func noChangesAndConflicts() {
        #expect(PlanRenderer.human(Plan()) == "No changes. Kernel state matches the topology.\n")
        let conflict = HAVPNError(
            .conflict,
            "route 100.64.0.0/13 metric 0 is held by a foreign route",
            object: "route 100.64.0.0/13 dev bond0-ip6tnl0"
        )
        let plan = Plan(actions: [], conflicts: [conflict])
        #expect(
            PlanRenderer.human(plan)
                == "! route 100.64.0.0/13 metric 0 is held by a foreign route\nNo changes. 1 conflict needs attention.\n"
        )
        #expect(
            PlanRenderer.json(plan)
                == #"{"actions":[],"summary":{"add":0,"change":0,"destroy":0},"conflicts":[{"code":"conflict","message":"route 100.64.0.0/13 metric 0 is held by a foreign route","object":"route 100.64.0.0/13 dev bond0-ip6tnl0"}]}"#
                + "\n"
        )
    }

    @Test func jsonEscapes() {
        let plan = Plan(actions: [.setSysctl(key: "a\"b\\c", from: "1\n", to: "\u{1}")])
        #expect(PlanRenderer.json(plan).contains(#""key":"a\"b\\c","from":"1\n","to":"\u0001""#))
    }

    @Test func showListsOwnedObjectsOnly() {
        var observed = Fx.converged(Fx.apiserver())
        observed.links.append(ObservedLink(spec: LinkSpec(name: "eth0", kind: .other("veth")), owned: false))
        observed.addresses.append(
            ObservedAddress(
                spec: AddressSpec(device: "bond0", address: IPAddress("fe80::1")!, prefixLength: 64),
                owned: false
            )
        )
        observed.routes.append(ObservedRoute(spec: Fx.route(IPNetwork("0.0.0.0/0")!, "eth0"), routeProtocol: 3))
        let yaml = StateRenderer.yaml(observed)
        let json = StateRenderer.json(observed)
        for text in [yaml, json] {
            #expect(!text.contains("eth0") && !text.contains("fe80"))
            #expect(text.contains("bond0-ip6tnl1") && text.contains("fd8f:6d53:b97a:1::a:1/104"))
        }
        #expect(yaml.hasPrefix("links:\n  - name: \"bond0\"\n    kind: \"bond\"\n    mode: \"active-backup\"\n"))
        #expect(
            yaml.contains("routes:\n  - destination: \"100.64.0.0/13\"\n    device: \"bond0-ip6tnl0\"\n    metric: 0\n")
        )
        #expect(StateRenderer.yaml(ObservedState()) == "links: []\naddresses: []\nroutes: []\nsysctls: {}\n")
        #expect(json.hasPrefix(#"{"links":[{"name":"bond0","kind":"bond","mode":"active-backup","miimon":100,"#))
    }
}
