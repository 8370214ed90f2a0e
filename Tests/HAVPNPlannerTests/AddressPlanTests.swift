import HAVPNModel
import Testing

@Suite struct AddressPlanTests {
    let plan = AddressPlan(topology: Topology())

    @Test func vpn2DefaultAddresses() {
        #expect(plan.shootClientBondAddress(0).description == "fd8f:6d53:b97a:1::b:0")
        #expect(plan.shootClientBondAddress(1).description == "fd8f:6d53:b97a:1::b:1")
        #expect(plan.apiserverBondAddress(1).description == "fd8f:6d53:b97a:1::a:1")
        #expect(plan.apiserverBondAddress(0xffff).description == "fd8f:6d53:b97a:1::a:ffff")
        #expect(plan.apiserverBondAddress(0x1234).description == "fd8f:6d53:b97a:1::a:1234")
        #expect(plan.tapSubnet(server: 0).description == "fd8f:6d53:b97a:1::100:0/112")
        #expect(plan.tapSubnet(server: 1).description == "fd8f:6d53:b97a:1::101:0/112")
        #expect(plan.bondNetwork.description == "fd8f:6d53:b97a:1::/104")
    }

    @Test func vpn2DefaultNames() {
        #expect(plan.bondName == "bond0")
        #expect(plan.tapName(server: 1) == "tap1")
        #expect(plan.apiserverTunnelName(shootClient: 0) == "bond0-ip6tnl0")
        #expect(plan.shootTunnelName(peer: plan.apiserverBondAddress(1)) == "bond0ip6tnl0001")
        #expect(plan.shootTunnelName(peer: plan.apiserverBondAddress(0xabcd)) == "bond0ip6tnlabcd")
        #expect(plan.shootTunnelName(peer: plan.apiserverBondAddress(0xffff)).utf8.count == 15)
    }

    @Test func otherTransportKeepsLayout() {
        var t = Topology()
        t.transport.network = IPNetwork("fd00:1:2:3:4:5::/96")!
        let p = AddressPlan(topology: t)
        #expect(p.apiserverBondAddress(2).description == "fd00:1:2:3:4:5:a:2")
        #expect(p.shootClientBondAddress(7).description == "fd00:1:2:3:4:5:b:7")
        #expect(p.bondNetwork.description == "fd00:1:2:3:4:5::/104")
        #expect(p.tapSubnet(server: 3).description == "fd00:1:2:3:4:5:103:0/112")
    }

    @Test func inverseHelpers() {
        for x in [1, 2, 0xff, 0x100, 0xfffe, 0xffff] {
            #expect(plan.apiserverIndex(ofBondAddress: plan.apiserverBondAddress(x)) == x)
            #expect(plan.shootClientIndex(ofBondAddress: plan.apiserverBondAddress(x)) == nil)
        }
        for j in [0, 1, 7, 255] {
            #expect(plan.shootClientIndex(ofBondAddress: plan.shootClientBondAddress(j)) == j)
            #expect(plan.apiserverIndex(ofBondAddress: plan.shootClientBondAddress(j)) == nil)
        }
        #expect(plan.apiserverIndex(ofBondAddress: IPv6Address("fd8f:6d53:b97a:1::a:0")!) == nil)
        #expect(plan.apiserverIndex(ofBondAddress: IPv6Address("fd8f:6d53:b97a:2::a:1")!) == nil)
        #expect(plan.shootClientIndex(ofBondAddress: IPv6Address("fd8f:6d53:b97a:1::b:101")!) == nil)
        #expect(plan.isInBondNetwork(IPv6Address("fd8f:6d53:b97a:1::a:1")!))
        #expect(plan.isInBondNetwork(IPv6Address("fd8f:6d53:b97a:1::ff:ffff")!))
        #expect(!plan.isInBondNetwork(IPv6Address("fd8f:6d53:b97a:1::100:0:1")!))
        #expect(!plan.isInBondNetwork(IPAddress("10.0.0.1")!))
    }
}
