extension Topology {
    /// The HTTP CONNECT proxy that replaces vpn2's envoy side-car in the server pod: kube-apiserver's egress
    /// selector dials it, and it relays each CONNECT to an IP literal inside the shoot networks.
    /// Served by `havpn run --role server` when the topology has a `proxy` section.
    public struct ConnectProxy: Hashable, Sendable {
        public var address: String = "0.0.0.0"
        /// vpn2's envoy listens on 9443, and kube-apiserver's egress selector configuration points there.
        public var port: Int = 9443
        /// TLS with client certificates; nil serves plain TCP (labs only: anyone who reaches the port
        /// reaches the shoot networks).
        public var tls: TLS? = nil
        /// Longest wait for the target's TCP handshake before the client gets 504.
        public var connectTimeout: Duration = .seconds(5)
        /// A tunnel with no byte in either direction for this long is closed. One hour is envoy's
        /// `tcp_proxy` default, so replacing envoy changes nothing for `kubectl exec`/`logs -f` sessions
        /// that sit quiet; it still bounds how long a tunnel whose peer vanished without FIN or RST holds a
        /// slot under `maxTunnels`.
        public var idleTimeout: Duration = .seconds(3600)
        /// Concurrent tunnels; one more is answered 503. Each tunnel holds two sockets and two
        /// receive buffers, so 4096 stays within a pod's default descriptor limit and a few hundred MiB
        /// at worst, while far above what one kube-apiserver keeps open (exec, logs, port-forward,
        /// webhooks and aggregated APIs in the shoot).
        public var maxTunnels: Int = 4096

        public init() {}

        public struct TLS: Hashable, Sendable {
            /// PEM server certificate chain presented to kube-apiserver.
            public var certFile: String
            /// PEM private key of `certFile`.
            public var keyFile: String
            /// PEM CA bundle that client certificates must chain to; a client without one is refused.
            public var clientCAFile: String

            public init(certFile: String, keyFile: String, clientCAFile: String) {
                self.certFile = certFile
                self.keyFile = keyFile
                self.clientCAFile = clientCAFile
            }
        }
    }
}

extension TopologyReader {
    static let proxyKeys = ["address", "port", "tls", "connectTimeout", "idleTimeout", "maxTunnels"]

    /// The `proxy` section; null means no proxy, an empty mapping a proxy with every default.
    mutating func readProxy(_ cursor: YAMLCursor) throws(HAVPNError) {
        guard !cursor.isNull else {
            topology.proxy = nil
            return
        }
        var proxy = Topology.ConnectProxy()
        for (key, value) in try cursor.mapping(allowedKeys: Self.proxyKeys) {
            locations[value.path] = value.location
            switch key {
            case "address": proxy.address = try value.address().description
            case "port": proxy.port = try value.int(in: Self.portRange)
            case "tls": proxy.tls = value.isNull ? nil : try readProxyTLS(value)
            case "connectTimeout": proxy.connectTimeout = try value.duration(minimum: Self.minimumInterval)
            case "idleTimeout": proxy.idleTimeout = try value.duration(minimum: Self.minimumInterval)
            default: proxy.maxTunnels = try value.int(in: 1...1_000_000)
            }
        }
        topology.proxy = proxy
    }

    /// All three files are required: a TLS proxy that did not check client certificates would hand the
    /// shoot networks to anyone in the seed who reaches the port.
    private mutating func readProxyTLS(_ cursor: YAMLCursor) throws(HAVPNError) -> Topology.ConnectProxy.TLS {
        let entries = try cursor.mapping(allowedKeys: ["certFile", "keyFile", "clientCAFile"])
        var files: [String] = []
        for key in ["certFile", "keyFile", "clientCAFile"] {
            let value = try cursor.required(key, in: entries)
            locations[value.path] = value.location
            files.append(try value.nonEmptyString())
        }
        return Topology.ConnectProxy.TLS(certFile: files[0], keyFile: files[1], clientCAFile: files[2])
    }
}

extension TopologyValidator {
    /// The proxy and the HTTP endpoint cannot share a port on addresses that overlap (equal, or one of
    /// them the wildcard): the second bind would fail at start, after the file was accepted.
    func validateProxy() throws(HAVPNError) {
        guard let proxy = topology.proxy, proxy.port == topology.http.port else { return }
        let wildcards: Set<String> = ["0.0.0.0", "::"]
        let (a, b) = (proxy.address, topology.http.address)
        guard a == b || wildcards.contains(a) || wildcards.contains(b) else { return }
        let location = locations["proxy.port"] ?? locations["http.port"]
        throw HAVPNError(
            .duplicate, "port \(proxy.port) on \(a) is already the HTTP endpoint's (http: \(b):\(topology.http.port))",
            location: location, keyPath: "proxy.port")
    }
}
