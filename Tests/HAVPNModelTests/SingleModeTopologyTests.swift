import HAVPNModel
import Testing

@Suite struct SingleModeTopologyTests {
    private func decode(_ yaml: String) throws -> Topology {
        try TopologyDecoder.decode(yaml: yaml, file: "t.yaml")
    }

    @Test func haIsTheDefaultAndKeepsTwoByTwo() throws {
        let t = try decode("apiVersion: havpn/v1\n")
        #expect(t.mode == .ha)
        #expect(t.servers == 2)
        #expect(t.shootClients == 2)
    }

    @Test func singleModeHasOneServerAndOneShootClient() throws {
        let t = try decode("apiVersion: havpn/v1\nmode: single\nnetworks: {seedPods: [10.1.0.0/16]}\n")
        #expect(t.mode == .single)
        #expect(t.servers == 1)
        #expect(t.shootClients == 1)
        #expect(t.devices.tun == "tun0")
    }

    @Test func singleModeAcceptsTheCommonKeys() throws {
        let t = try decode(
            """
            apiVersion: havpn/v1
            mode: single
            servers: 1
            shootClients: 1
            transport: {network: "fd00:1::/96"}
            ipFamilies: [IPv6]
            networks: {shoot: {pods: ["fd00:10::/56"], services: ["fd00:11::/108"]}}
            devices: {tun: vpn0}
            timings: {resyncInterval: 10s, configPollInterval: 1s}
            filter: {input: true}
            nat: {uplink: eth1}
            proxy: {}

            """
        )
        #expect(t.devices.tun == "vpn0")
        // An IPv6-only shoot needs no seed pod network: the proxy's source is tun0's own pool address.
        #expect(t.networks.seedPods.isEmpty)
    }

    /// Every HA-only key is an error in single mode, pointing at that key.
    @Test(arguments: Topology.haOnlyKeys)
    func haOnlyKeyIsAnErrorInSingleMode(key: String) throws {
        let values: [String: String] = [
            "apiservers": "[{index: 1, podIPs: [10.1.0.5]}]", "bond": "{miimon: 100}",
            "announcements": "{port: 5400}", "mtu": "1400",
        ]
        let parts = key.split(separator: ".").map(String.init)
        let line: String
        if parts.count == 2 {
            let value = parts[0] == "devices" ? "x0" : (parts[1].hasSuffix("Threshold") ? "3" : "300ms")
            line = "\(parts[0]): {\(parts[1]): \(value)}"
        } else {
            let value = try #require(values[key], "no value for the HA-only key \(key)")
            line = "\(key): \(value)"
        }
        let yaml = "apiVersion: havpn/v1\nmode: single\nnetworks: {seedPods: [10.1.0.0/16]}\n\(line)\n"
        #expect(throws: HAVPNError(.invalidValue, "")) { try decode(yaml) }
        let error = #expect(throws: HAVPNError.self) { try decode(yaml) }
        #expect(error?.keyPath == key)
        #expect(error?.location?.line == 4)
        // The same line is fine in HA mode.
        #expect(throws: Never.self) { try decode("apiVersion: havpn/v1\n\(line)\n") }
    }

    @Test func theApiserverRoleDoesNotExistInSingleMode() throws {
        let t = try decode("apiVersion: havpn/v1\nmode: single\nnetworks: {seedPods: [10.1.0.0/16]}\n")
        #expect(throws: HAVPNError(.invalidIdentity, "")) {
            try Identity.validate(role: .apiserver, index: 1, topology: t, source: "--index")
        }
        #expect(throws: Never.self) { try Identity.validate(role: .server, index: 0, topology: t, source: "--index") }
        #expect(throws: HAVPNError(.invalidIdentity, "")) {
            try Identity.validate(role: .shoot, index: 1, topology: t, source: "--index")
        }
    }
}

@Suite struct SingleOnlyKeyTests {
    /// Every single-only key is an error in HA mode and accepted in single mode.
    @Test(arguments: Topology.singleOnlyKeys)
    func singleOnlyKeyIsAnErrorInHAMode(key: String) throws {
        let parts = key.split(separator: ".").map(String.init)
        let line = "\(parts[0]): {\(parts[1]): x0}"
        let error = #expect(throws: HAVPNError.self) {
            try TopologyDecoder.decode(yaml: "apiVersion: havpn/v1\n\(line)\n", file: "t.yaml")
        }
        #expect(error?.keyPath == key)
        #expect(error?.code == .invalidValue)
        let single = "apiVersion: havpn/v1\nmode: single\nnetworks: {seedPods: [10.1.0.0/16]}\n\(line)\n"
        #expect(throws: Never.self) { try TopologyDecoder.decode(yaml: single, file: "t.yaml") }
    }
}
