import HAVPNModel
import Testing

@Suite struct ProxyTopologyTests {
    private func decode(_ body: String) throws -> Topology {
        try TopologyDecoder.decode(yaml: "apiVersion: havpn/v1\n" + body, file: "t.yaml")
    }

    @Test func noSectionOrNullMeansNoProxy() throws {
        #expect(try decode("").proxy == nil)
        #expect(try decode("proxy: null\n").proxy == nil)
    }

    @Test func anEmptySectionIsAProxyWithEveryDefault() throws {
        let proxy = try #require(try decode("proxy: {}\n").proxy)
        #expect(proxy.address == "0.0.0.0")
        #expect(proxy.port == 9443)
        #expect(proxy.tls == nil)
        #expect(proxy.connectTimeout == .seconds(5))
        #expect(proxy.idleTimeout == .seconds(3600))
        #expect(proxy.maxTunnels == 4096)
    }

    @Test func everyKeyIsRead() throws {
        let proxy = try #require(
            try decode(
                """
                proxy:
                  address: "fd00::1"
                  port: 8443
                  tls: {certFile: /c, keyFile: /k, clientCAFile: /ca}
                  connectTimeout: 1500ms
                  idleTimeout: 10m
                  maxTunnels: 12
                """
            ).proxy)
        #expect(proxy.address == "fd00::1")
        #expect(proxy.port == 8443)
        #expect(proxy.tls == Topology.ConnectProxy.TLS(certFile: "/c", keyFile: "/k", clientCAFile: "/ca"))
        #expect(proxy.connectTimeout == .milliseconds(1500))
        #expect(proxy.idleTimeout == .seconds(600))
        #expect(proxy.maxTunnels == 12)
    }

    /// The proxy may share the HTTP endpoint's port only on a different specific address.
    @Test func portSharedWithHTTPOnlyOnDistinctAddresses() throws {
        #expect(throws: HAVPNError(.duplicate, "")) { try decode("proxy: {port: 8080}\n") }
        #expect(throws: HAVPNError(.duplicate, "")) {
            try decode("http: {address: 10.0.0.1}\nproxy: {address: 10.0.0.1, port: 8080}\n")
        }
        #expect(try decode("http: {address: 10.0.0.1}\nproxy: {address: 10.0.0.2, port: 8080}\n").proxy?.port == 8080)
    }
}
