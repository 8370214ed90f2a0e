import HAVPNControl
import HAVPNModel
import PropertyBased
import Testing

private let policy = ConnectPolicy(
    shootNetworks: [IPNetwork("100.96.0.0/11")!, IPNetwork("100.64.0.0/13")!, IPNetwork("fd00:10::/64")!],
    seedNetworks: [IPNetwork("10.96.0.0/16")!, IPNetwork("fd00:96::/64")!],
    ownAddresses: [IPAddress("100.96.0.9")!]
)

private func head(_ text: String) -> [UInt8] { Array(text.utf8) }
private func connect(_ authority: String) -> ConnectDecision {
    policy.judge(head: head("CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n\r\n"))
}
private func relay(_ address: String, _ port: Int) -> ConnectDecision {
    .relay(ConnectTarget(address: IPAddress(address)!, port: port))
}

@Suite struct ConnectPolicyTests {
    @Test func relaysIPLiteralsInsideTheShootNetworks() {
        #expect(connect("100.96.3.4:10250") == relay("100.96.3.4", 10250))
        #expect(connect("100.64.0.1:443") == relay("100.64.0.1", 443))
        #expect(connect("[fd00:10::5]:443") == relay("fd00:10::5", 443))
        // An IPv4-mapped IPv6 literal reaches the IPv4 address, and is dialled as that.
        #expect(connect("[::ffff:100.96.0.1]:80") == relay("100.96.0.1", 80))
    }

    @Test(arguments: [
        ("10.96.0.5:443", ConnectRefusal.seedAddress),
        ("[fd00:96::1]:443", .seedAddress),
        ("127.0.0.1:22", .loopback),
        ("127.9.9.9:22", .loopback),
        ("[::1]:22", .loopback),
        ("[::ffff:127.0.0.1]:22", .loopback),
        ("169.254.169.254:80", .linkLocal),
        ("[fe80::1]:80", .linkLocal),
        ("0.0.0.0:80", .unspecified),
        ("[::]:80", .unspecified),
        ("224.0.0.1:80", .notUnicast),
        ("255.255.255.255:80", .notUnicast),
        ("[ff02::1]:80", .notUnicast),
        ("100.96.0.9:9443", .proxyAddress),
        ("100.96.0.9:22", .proxyAddress),
        ("[::ffff:100.96.0.9]:22", .proxyAddress),
        ("8.8.8.8:53", .outsideShoot),
        ("[2001:db8::1]:443", .outsideShoot),
        ("kubernetes.default.svc:443", .hostName),
        ("localhost:22", .hostName),
        ("0100.96.0.1:80", .hostName),
        ("[fe80::1%25eth0]:80", .hostName),
        ("[example.com]:80", .hostName),
        ("100.96.0.1", .badPort),
        ("100.96.0.1:", .badPort),
        ("100.96.0.1:0", .badPort),
        ("100.96.0.1:65536", .badPort),
        ("100.96.0.1:080", .badPort),
        ("100.96.0.1:+80", .badPort),
        ("100.96.0.1:http", .badPort),
        ("[fd00:10::5]", .badPort),
        ("fd00:10::5:443", .malformedHead),
        ("[fd00:10::5:443", .malformedHead),
        (":443", .malformedHead),
        ("100.96.0.1/x:443", .malformedHead),
    ])
    func refusesEverythingElseWithItsReason(authority: String, reason: ConnectRefusal) {
        #expect(connect(authority) == .refuse(reason), "\(authority)")
    }

    @Test(arguments: [
        ("GET http://100.96.0.1/ HTTP/1.1\r\nHost: 100.96.0.1\r\n\r\n", ConnectRefusal.notConnect),
        ("connect 100.96.0.1:80 HTTP/1.1\r\n\r\n", .notConnect),
        ("POST / HTTP/1.1\r\n\r\n", .notConnect),
        ("CONNECT 100.96.0.1:80 HTTP/2.0\r\n\r\n", .malformedHead),
        ("CONNECT 100.96.0.1:80\r\n\r\n", .malformedHead),
        ("CONNECT  100.96.0.1:80 HTTP/1.1\r\n\r\n", .malformedHead),
        ("CONNECT 100.96.0.1:80 HTTP/1.1\r\nHost 100.96.0.1\r\n\r\n", .malformedHead),
        ("CONNECT 100.96.0.1:80 HTTP/1.1\r\n folded: header\r\n\r\n", .malformedHead),
        ("CONNECT 100.96.0.1:80 HTTP/1.1\r\nX: a\u{0}b\r\n\r\n", .malformedHead),
        ("CONNECT 100.96.0.1:80 HTTP/1.1\r\nX: a\rb\r\n\r\n", .malformedHead),
        ("CONN\u{7F}ECT 100.96.0.1:80 HTTP/1.1\r\n\r\n", .malformedHead),
        ("CONNECT 100.96.0.1:80 HTTP/1.1\r\n", .malformedHead),
    ])
    func refusesBadHeads(text: String, reason: ConnectRefusal) {
        #expect(policy.judge(head: head(text)) == .refuse(reason))
    }

    @Test func acceptsHTTP10AndBareLineFeeds() {
        #expect(policy.judge(head: head("CONNECT 100.96.0.1:80 HTTP/1.0\n\n")) == relay("100.96.0.1", 80))
        #expect(
            policy.judge(
                head: head("CONNECT 100.96.0.1:80 HTTP/1.1\r\nProxy-Authorization: x\r\nUser-Agent: é\r\n\r\n")
            )
                == relay("100.96.0.1", 80)
        )
    }

    @Test func scanFindsTheEndOfTheHeadAndLeavesTheRest() {
        let text = head("CONNECT 100.96.0.1:80 HTTP/1.1\r\nHost: x\r\n\r\nTLS")
        #expect(policy.scan(text) == .complete(length: text.count - 3))
        #expect(policy.scan(text.prefix(10)) == .incomplete)
        #expect(policy.scan(head("CONNECT a:1 HTTP/1.1\n\nrest")) == .complete(length: 22))
        #expect(policy.scan([]) == .incomplete)
    }

    @Test func examineScansThenJudges() {
        let text = head("CONNECT 100.96.0.1:80 HTTP/1.1\r\nHost: x\r\n\r\nTLS")
        let target = ConnectTarget(address: IPAddress("100.96.0.1")!, port: 80)
        #expect(policy.examine(text) == .relay(target, headLength: text.count - 3))
        #expect(policy.examine(text.prefix(10)) == .incomplete)
        #expect(policy.examine(head("CONNECT 10.96.0.5:443 HTTP/1.1\r\n\r\n")) == .refuse(.seedAddress))
        #expect(policy.examine(head("GET / HTTP/1.1\r\n\r\n")) == .refuse(.notConnect))
        let small = ConnectPolicy(shootNetworks: [IPNetwork("100.96.0.0/11")!], headLimit: 16)
        #expect(small.examine(head(String(repeating: "a", count: 17))) == .refuse(.headTooLarge))
        #expect(small.examine(head(String(repeating: "a", count: 16))) == .incomplete)
    }

    @Test func headsOverTheCapAreRefused() {
        let small = ConnectPolicy(shootNetworks: [IPNetwork("100.96.0.0/11")!], headLimit: 64)
        let long = head("CONNECT 100.96.0.1:80 HTTP/1.1\r\nX: " + String(repeating: "a", count: 64) + "\r\n\r\n")
        #expect(small.scan(long) == .tooLarge)
        #expect(small.scan(long.prefix(65)) == .tooLarge)
        #expect(small.scan(long.prefix(64)) == .incomplete)
        #expect(small.judge(head: long) == .refuse(.headTooLarge))
        // Exactly at the cap is still a head.
        let exact = head("CONNECT 100.96.0.1:80 HTTP/1.1\r\nX: " + String(repeating: "a", count: 25) + "\r\n\r\n")
        #expect(exact.count == 64)
        #expect(small.scan(exact) == .complete(length: 64))
        #expect(small.judge(head: exact) == relay("100.96.0.1", 80))
    }

    @Test func policyOfATopologyTakesItsNetworksAndListenAddress() throws {
        var topology = Topology()
        topology.networks.seedPods = [IPNetwork("10.96.0.0/16")!]
        var proxy = Topology.ConnectProxy()
        proxy.address = "100.96.0.7"
        topology.proxy = proxy
        let fromTopology = ConnectPolicy(topology: topology, ownAddresses: [IPAddress("10.96.1.1")!])
        #expect(fromTopology.judge(authority: "100.96.0.7:1") == .refuse(.proxyAddress))
        #expect(fromTopology.judge(authority: "10.96.1.1:1") == .refuse(.proxyAddress))
        #expect(fromTopology.judge(authority: "10.96.1.2:1") == .refuse(.seedAddress))
        #expect(fromTopology.judge(authority: "100.64.0.10:53") == relay("100.64.0.10", 53))
        // A wildcard listen address is not an address of its own.
        proxy.address = "0.0.0.0"
        topology.proxy = proxy
        #expect(ConnectPolicy(topology: topology).ownAddresses.isEmpty)
    }

    /// Single mode NETMAPs IPv4 always: real shoot literals (what kube-apiserver asks for, even where they
    /// overlap the seed pods) and their stand-ins are relayed; the seed pods' 241/8 stand-ins are not.
    @Test func singleModeRelaysRealShootAddressesAndTheirStandIns() {
        var topology = Topology()
        topology.mode = .single
        topology.networks.shoot.pods = [IPNetwork("10.1.0.0/16")!]
        topology.networks.shoot.services = [IPNetwork("100.64.0.0/13")!]
        topology.networks.seedPods = [IPNetwork("10.1.0.0/16")!]
        let policy = ConnectPolicy(topology: topology)
        #expect(policy.judge(authority: "10.1.2.3:443") == relay("10.1.2.3", 443))
        #expect(policy.judge(authority: "100.64.0.10:53") == relay("100.64.0.10", 53))
        #expect(policy.judge(authority: "244.0.2.3:443") == relay("244.0.2.3", 443))
        #expect(policy.judge(authority: "243.0.0.10:53") == relay("243.0.0.10", 53))
        // Outside the blocks the shoot networks were mapped into, and the seed pods' stand-ins.
        #expect(policy.judge(authority: "244.1.0.1:443") == .refuse(.outsideShoot))
        #expect(policy.judge(authority: "241.1.2.3:443") == .refuse(.outsideShoot))
        // HA without an overlap maps nothing: stand-ins are outside the shoot.
        topology.mode = .ha
        topology.networks.seedPods = [IPNetwork("10.2.0.0/16")!]
        #expect(ConnectPolicy(topology: topology).judge(authority: "244.0.2.3:443") == .refuse(.outsideShoot))
    }

    @Test func responsesCarryStatusLengthAndClose() {
        #expect(
            String(decoding: ConnectResponse.established, as: UTF8.self)
                == "HTTP/1.1 200 Connection established\r\n\r\n"
        )
        for reason in ConnectRefusal.allCases {
            let text = String(decoding: ConnectResponse.refusal(reason), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 \(reason.status.code) "))
            #expect((400...503).contains(reason.status.code))
            let body = reason.explanation + "\n"
            #expect(text.hasSuffix("Connection: close\r\n\r\n" + body))
            #expect(text.contains("Content-Length: \(body.utf8.count)\r\n"))
        }
        #expect(String(decoding: ConnectResponse.failure(.timeout), as: UTF8.self).hasPrefix("HTTP/1.1 504 "))
    }
}

// MARK: - Laws

private let addressGen = Gen.uint8().array(of: 16).map { b -> IPAddress in
    switch b[0] % 4 {
    case 0: .v4(IPv4Address(bytes: Array(b[0..<4])))
    case 1: .v4(IPv4Address(bytes: [100, 96 + b[1] % 40] + Array(b[2..<4])))  // near the shoot pod network
    case 2: .v6(IPv6Address(bytes: [0xfd, 0, 0, 0x10, 0, 0, 0, 0] + Array(b[8..<16])))
    default: .v6(IPv6Address(bytes: b))
    }
}
private let authorityGen = zip(addressGen, Gen.int(in: -2...70000)).map { address, port -> String in
    ConnectTarget(address: address, port: port).description
}
private let headGen = zip(Gen.uint8().array(of: 0...40), Gen.int(in: 0...4), authorityGen).map {
    noise,
    choice,
    authority -> [UInt8] in
    switch choice {
    case 0: noise
    case 1: Array("CONNECT \(authority) HTTP/1.1\r\n".utf8) + noise + Array("\r\n\r\n".utf8)
    case 2: Array("CONNECT \(authority) HTTP/1.1\r\n\r\n".utf8)
    case 3: Array("CONNECT ".utf8) + noise + Array(" HTTP/1.1\r\n\r\n".utf8)
    default: Array("CONNECT \(authority) HTTP/1.1\r\nHost: ".utf8) + noise + Array("\r\n\r\n".utf8)
    }
}

@Suite struct ConnectPolicyLaws {
    /// No decision ever relays outside the shoot networks, to the proxy itself, or to an invalid port.
    @Test func relaysOnlyIntoTheShootNetworks() async {
        var relays = 0
        await propertyCheck(count: 2000, input: headGen) { bytes in
            guard case .relay(let target) = policy.judge(head: bytes) else { return }
            relays += 1
            #expect(policy.shootNetworks.contains { $0.contains(target.address) })
            #expect(!policy.ownAddresses.contains(target.address))
            #expect((1...65535).contains(target.port))
        }
        // Without relayed heads the law holds vacuously: the generator must reach the relay case.
        #expect(relays > 0)
    }

    /// Judging a target directly agrees with judging it through a head, and every address outside the
    /// shoot networks is refused with an address reason (never relayed, never a parse reason).
    @Test func everyAddressOutsideTheShootIsRefusedWithAnAddressReason() async {
        let addressReasons: Set<ConnectRefusal> = [
            .unspecified, .loopback, .linkLocal, .notUnicast, .proxyAddress, .seedAddress, .outsideShoot,
        ]
        await propertyCheck(count: 2000, input: addressGen, Gen.int(in: 1...65535)) { address, port in
            let target = ConnectTarget(address: address, port: port)
            let direct = policy.judge(target)
            #expect(connect(target.description) == direct)
            let inside = policy.shootNetworks.contains { $0.contains(ConnectPolicy.unmapped(address)) }
            switch direct {
            case .relay: #expect(inside)
            case .refuse(let reason): #expect(addressReasons.contains(reason), "\(target) → \(reason)")
            }
        }
    }

    /// Any byte string is judged (no crash), and a head that is not a CONNECT never relays.
    @Test func arbitraryBytesAreJudgedAndNonConnectIsRefused() async {
        await propertyCheck(count: 2000, input: Gen.uint8().array(of: 0...200)) { bytes in
            let decision = policy.judge(head: bytes)
            if case .relay = decision {
                #expect(bytes.starts(with: Array("CONNECT ".utf8)), "relayed \(bytes)")
            }
        }
    }

    /// Whatever the cap, a scan never reports a head longer than the cap, and bytes beyond it are refused.
    @Test func scanNeverExceedsTheCap() async {
        await propertyCheck(count: 1000, input: Gen.int(in: 4...300), headGen) { limit, bytes in
            let capped = ConnectPolicy(shootNetworks: policy.shootNetworks, headLimit: limit)
            switch capped.scan(bytes) {
            case .complete(let length): #expect(length <= limit)
            case .tooLarge: #expect(bytes.count > limit)
            case .incomplete: #expect(bytes.count <= limit)
            }
            if bytes.count > limit { #expect(capped.judge(head: bytes) == .refuse(.headTooLarge)) }
        }
    }
}
