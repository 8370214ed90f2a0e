import HAVPNModel
import Testing

@Suite struct IdentityTests {
    let topology = Topology()

    func resolve(
        _ role: Role,
        index: Int? = nil,
        bond: String? = nil,
        name: String? = nil,
        ip: String? = nil
    ) throws(HAVPNError) -> Identity {
        try Identity.resolve(role: role, index: index, bondAddress: bond, podName: name, podIP: ip, topology: topology)
    }

    @Test func explicitIndexWins() throws {
        #expect(try resolve(.apiserver, index: 7, bond: "fd8f:6d53:b97a:1::a:9", ip: "10.0.0.1").index == 7)
        #expect(try resolve(.shoot, index: 1, name: "vpn-shoot-0").index == 1)
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.apiserver, index: 0) }
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.shoot, index: 2) }
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.server, index: -1) }
    }

    @Test func apiserverFromBondAddress() throws {
        #expect(try resolve(.apiserver, bond: "fd8f:6d53:b97a:1::a:2a").index == 0x2a)
        #expect(try resolve(.apiserver, bond: "fd8f:6d53:b97a:1::a:ffff").index == 0xffff)
        for bad in ["fd8f:6d53:b97a:1::a:0", "fd8f:6d53:b97a:1::b:1", "fd8f:6d53:b97a:2::a:1", "10.0.0.1", "junk"] {
            #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.apiserver, bond: bad) }
        }
    }

    @Test func apiserverFromPodIP() throws {
        #expect(try resolve(.apiserver, ip: "10.1.3.5").index == 0x0305)
        #expect(try resolve(.apiserver, ip: "100.96.255.254").index == 0xfffe)
        // Low bits 0 or 0xffff fall back to the hash, still in range and deterministic.
        for ip in ["10.1.0.0", "10.1.255.255", "fd00::5", "fd00:1::5", "2001:db8::1"] {
            let a = try resolve(.apiserver, ip: ip).index
            #expect((1...0xfffe).contains(a))
            #expect(try resolve(.apiserver, ip: ip).index == a)
        }
        #expect(try resolve(.apiserver, ip: "fd00:1::5").index != resolve(.apiserver, ip: "fd00:2::5").index)
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.apiserver, ip: "10.0.0") }
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.apiserver) }
    }

    @Test func ordinalsFromPodName() throws {
        #expect(try resolve(.shoot, name: "vpn-shoot-1").index == 1)
        #expect(try resolve(.shoot, name: "vpn-shoot-0").index == 0)
        #expect(try resolve(.server, name: "vpn-seed-server-0").index == 0)
        #expect(try resolve(.server, name: "vpn-seed-server-1").index == 1)
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.shoot, name: "vpn-shoot-2") }
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.server, name: "vpn-seed-server-5") }
        for bad in ["vpn-shoot", "vpn-shoot-", "vpn-shoot-x1", "shoot"] {
            #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.shoot, name: bad) }
        }
        #expect(throws: HAVPNError(.invalidIdentity, "")) { try resolve(.shoot) }
        #expect(throws: HAVPNError(.invalidIdentity, "")) {
            try resolve(.shoot, bond: "fd8f:6d53:b97a:1::b:1", name: "vpn-shoot-1")
        }
    }

    @Test func messagesSayWhatIsWrong() {
        do {
            _ = try resolve(.shoot, name: "vpn-shoot-3")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("shoot client index 3 is outside 0..<2"))
            #expect(error.description.contains("vpn-shoot-3"))
        }
    }

    @Test func podIPsAreTheDownwardAPIListPrimaryFirstOnePerFamily() throws {
        let v4 = try #require(IPAddress("10.250.0.10"))
        let v6 = try #require(IPAddress("fd00:100::20"))
        #expect(try Identity.podIPs([]) == [])
        #expect(try Identity.podIPs(["10.250.0.10"]) == [v4])
        #expect(try Identity.podIPs(["10.250.0.10,fd00:100::20"]) == [v4, v6])
        #expect(try Identity.podIPs(["fd00:100::20", " 10.250.0.10 "]) == [v6, v4])
        for bad in [["10.250.0.10,10.250.0.11"], ["fd00::1", "fd00::2"], ["10.250.0.1x"]] {
            #expect(throws: HAVPNError(.invalidIdentity, "")) { try Identity.podIPs(bad) }
        }
        do {
            _ = try Identity.podIPs(["10.250.0.10,10.250.0.11"])
        } catch {
            #expect(error.description.contains("10.250.0.10,10.250.0.11 hold two IPv4 addresses"))
        }
    }
}
