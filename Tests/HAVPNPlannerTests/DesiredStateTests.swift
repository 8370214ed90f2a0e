import HAVPNModel
import HAVPNPlanner
import Testing

@Suite struct DesiredStateTests {
    let topology = Topology()
    let plan = AddressPlan(topology: Topology())
    let defaultBond = BondSpec(
        mode: .activeBackup,
        miimon: 100,
        failOverMAC: .active,
        useCarrier: true,
        primary: "tap0",
        numPeerNotif: 5
    )

    @Test func apiserverDefault() throws {
        let d = try Planner.desiredState(
            topology: topology,
            identity: Identity(role: .apiserver, index: 1),
            inputs: ControllerInputs(activeShootClient: 1)
        )
        let own = plan.apiserverBondAddress(1)
        #expect(
            d.links == [
                LinkSpec(name: "bond0", kind: .bond(defaultBond)),
                LinkSpec(
                    name: "bond0-ip6tnl0",
                    kind: .ip6tnl(TunnelSpec(local: own, remote: plan.shootClientBondAddress(0)))
                ),
                LinkSpec(
                    name: "bond0-ip6tnl1",
                    kind: .ip6tnl(TunnelSpec(local: own, remote: plan.shootClientBondAddress(1)))
                ),
                LinkSpec(name: "tap0", kind: .tap, master: "bond0"),
                LinkSpec(name: "tap1", kind: .tap, master: "bond0"),
            ]
        )
        #expect(d.addresses == [AddressSpec(device: "bond0", address: .v6(own), prefixLength: 104, nodad: true)])
        #expect(
            d.routes == [
                RouteSpec(destination: IPNetwork("100.64.0.0/13")!, device: "bond0-ip6tnl1"),
                RouteSpec(destination: IPNetwork("100.96.0.0/11")!, device: "bond0-ip6tnl1"),
            ]
        )
        #expect(
            d.sysctls.map { "\($0.key)=\($0.value)" } == [
                "net.ipv4.conf.all.log_martians=0", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.log_martians=0", "net.ipv4.conf.default.rp_filter=0",
                "net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
            ]
        )
    }

    @Test func apiserverRoutesFollowFamiliesAndUseTheKernelsIPv6Metric() throws {
        var t = topology
        t.ipFamilies = [.ipv6]
        t.networks.shoot.pods.append(IPNetwork("fd00:10::/48")!)
        t.networks.shoot.nodes = [IPNetwork("fd00:30::/64")!, IPNetwork("10.250.0.0/16")!]
        let d = try Planner.desiredState(
            topology: t,
            identity: Identity(role: .apiserver, index: 5),
            inputs: ControllerInputs()
        )
        #expect(
            d.routes == [
                RouteSpec(destination: IPNetwork("fd00:10::/48")!, device: "bond0-ip6tnl0", metric: 0),
                RouteSpec(destination: IPNetwork("fd00:30::/64")!, device: "bond0-ip6tnl0", metric: 0),
            ]
        )
    }

    @Test func shootDefaultWithPeers() throws {
        var t = topology
        t.apiservers = [Topology.ApiserverInstance(index: 1, podIPs: [IPAddress("10.0.0.1")!])]
        let announced = [
            ApiserverPeer(bondAddress: plan.apiserverBondAddress(1), podIPs: [IPAddress("10.0.0.9")!]),
            ApiserverPeer(bondAddress: plan.apiserverBondAddress(0x2a), podIPs: [IPAddress("fd00::7")!]),
        ]
        let d = try Planner.desiredState(
            topology: t,
            identity: Identity(role: .shoot, index: 1),
            inputs: ControllerInputs(apiserverPeers: announced)
        )
        let own = plan.shootClientBondAddress(1)
        #expect(d.links.map(\.name) == ["bond0", "bond0ip6tnl0001", "bond0ip6tnl002a", "tap0", "tap1"])
        #expect(d.links[1].kind == .ip6tnl(TunnelSpec(local: own, remote: plan.apiserverBondAddress(1))))
        #expect(d.addresses == [AddressSpec(device: "bond0", address: .v6(own), prefixLength: 104)])
        // The announced peer replaced the declared one with the same bond address.
        #expect(
            d.routes == [
                RouteSpec(destination: IPNetwork("10.0.0.9/32")!, device: "bond0ip6tnl0001"),
                RouteSpec(destination: IPNetwork("fd00::7/128")!, device: "bond0ip6tnl002a", metric: 0),
            ]
        )
        let sysctls = Dictionary(uniqueKeysWithValues: d.sysctls.map { ($0.key, $0.value) })
        #expect(sysctls["net.ipv4.ip_forward"] == "1")
        #expect(sysctls["net.ipv6.conf.all.forwarding"] == "1")
        #expect(sysctls["net.ipv4.conf.all.rp_filter"] == "0")
        #expect(sysctls["net.ipv6.conf.default.disable_ipv6"] == "0")
    }

    @Test func serverIsOnlyIPv6Enabled() throws {
        let d = try Planner.desiredState(
            topology: topology,
            identity: Identity(role: .server, index: 0),
            inputs: ControllerInputs()
        )
        #expect(d.links.isEmpty && d.addresses.isEmpty && d.routes.isEmpty)
        #expect(d.sysctls.map(\.key) == ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"])
    }

    @Test func balanceRRHasNoPrimaryAndMTUApplies() throws {
        var t = topology
        t.bond.mode = .balanceRR
        t.mtu = 1400
        let d = try Planner.desiredState(
            topology: t,
            identity: Identity(role: .shoot, index: 0),
            inputs: ControllerInputs()
        )
        guard case .bond(let bond) = d.links.first(where: { $0.name == "bond0" })?.kind else {
            Issue.record("no bond")
            return
        }
        #expect(bond.primary == nil && bond.mode == .balanceRR)
        #expect(d.links.allSatisfy { $0.mtu == 1400 })
    }

    @Test func invalidInputsAreRejected() {
        let api = Identity(role: .apiserver, index: 1)
        #expect(throws: HAVPNError(.outOfRange, "")) {
            try Planner.desiredState(topology: topology, identity: api, inputs: ControllerInputs(activeShootClient: 2))
        }
        for bad in ["fd8f:6d53:b97a:1::b:1", "fd8f:6d53:b97a:9::a:1", "fd8f:6d53:b97a:1::a:0"] {
            let peer = ApiserverPeer(bondAddress: IPv6Address(bad)!, podIPs: [])
            #expect(throws: HAVPNError(.invalidValue, "")) {
                try Planner.desiredState(
                    topology: topology,
                    identity: Identity(role: .shoot, index: 0),
                    inputs: ControllerInputs(apiserverPeers: [peer])
                )
            }
        }
        #expect(throws: HAVPNError(.invalidIdentity, "")) {
            try Planner.desiredState(
                topology: topology,
                identity: Identity(role: .shoot, index: 5),
                inputs: ControllerInputs()
            )
        }
        var long = topology
        long.devices.tapPrefix = "averyverylongtap"
        #expect(throws: HAVPNError(.nameTooLong, "")) {
            try Planner.desiredState(topology: long, identity: api, inputs: ControllerInputs())
        }
    }
}
