/// Why the CONNECT proxy did not relay a request. The raw value is the `reason` label of
/// `havpn_proxy_refusals_total`.
public enum ConnectRefusal: String, Hashable, Sendable, CaseIterable {
    /// Not an HTTP/1.x request head: bad request line, bad header line, bad version, a NUL byte.
    case malformedHead = "malformed_head"
    /// No end of head within ``ConnectPolicy/headLimit`` bytes.
    case headTooLarge = "head_too_large"
    /// The head did not arrive in time (decided by the I/O layer's clock).
    case headTimeout = "head_timeout"
    /// A method other than CONNECT: the proxy is no forward proxy for GET and friends.
    case notConnect = "not_connect"
    /// The target names a host; only IP literals are relayed, since resolving names would let the
    /// seed's DNS decide where the tunnel goes.
    case hostName = "host_name"
    /// Port missing, zero, above 65535 or not decimal.
    case badPort = "bad_port"
    /// 0.0.0.0/8 or `::`: the kernel takes these to mean this host.
    case unspecified
    /// 127.0.0.0/8 or `::1` outside the shoot networks: the server pod itself.
    case loopback
    /// 169.254.0.0/16 or fe80::/10 outside the shoot networks: the node's metadata services live there.
    case linkLocal = "link_local"
    /// Multicast or the IPv4 broadcast address: no TCP peer.
    case notUnicast = "not_unicast"
    /// One of the proxy's own addresses: a CONNECT to itself would loop.
    case proxyAddress = "proxy_address"
    /// Inside `networks.seedPods`: the proxy must not become a door into the seed.
    case seedAddress = "seed_address"
    /// Any other address outside the shoot networks.
    case outsideShoot = "outside_shoot"
    /// `proxy.maxTunnels` tunnels are open.
    case tunnelLimit = "tunnel_limit"

    /// The response status: 4xx for what the client asked, 503 for the cap (the client may retry).
    public var status: (code: Int, phrase: String) {
        switch self {
        case .malformedHead, .badPort: (400, "Bad Request")
        case .headTooLarge: (431, "Request Header Fields Too Large")
        case .headTimeout: (408, "Request Timeout")
        case .notConnect: (405, "Method Not Allowed")
        case .hostName, .unspecified, .loopback, .linkLocal, .notUnicast, .proxyAddress, .seedAddress,
            .outsideShoot:
            (403, "Forbidden")
        case .tunnelLimit: (503, "Service Unavailable")
        }
    }

    /// The response body: one line a person reading curl's output understands.
    public var explanation: String {
        switch self {
        case .malformedHead: "not an HTTP/1.x request head"
        case .headTooLarge: "request head too large"
        case .headTimeout: "request head not received in time"
        case .notConnect: "only CONNECT is served"
        case .hostName: "only IP literals are relayed, not host names"
        case .badPort: "missing or invalid port"
        case .unspecified: "the unspecified address is not relayed"
        case .loopback: "loopback addresses are not relayed"
        case .linkLocal: "link-local addresses are not relayed"
        case .notUnicast: "multicast and broadcast addresses are not relayed"
        case .proxyAddress: "the proxy does not relay to itself"
        case .seedAddress: "seed addresses are not relayed"
        case .outsideShoot: "the address is outside the shoot networks"
        case .tunnelLimit: "too many tunnels open"
        }
    }
}

/// Why a permitted tunnel could not be opened: the target did not take the connection.
/// The raw value is the `reason` label of `havpn_proxy_connect_failures_total`.
public enum ConnectFailure: String, Hashable, Sendable, CaseIterable {
    /// No TCP handshake within `proxy.connectTimeout`.
    case timeout
    /// RST, unreachable network or host, or any other error of the connect call.
    case refused

    public var status: (code: Int, phrase: String) {
        switch self {
        case .timeout: (504, "Gateway Timeout")
        case .refused: (502, "Bad Gateway")
        }
    }
}

/// The bytes the proxy answers with. CONNECT responses carry no body on success; refusals close the
/// connection, so they say so and give the length.
public enum ConnectResponse {
    public static let established: [UInt8] = Array("HTTP/1.1 200 Connection established\r\n\r\n".utf8)

    public static func refusal(_ reason: ConnectRefusal) -> [UInt8] {
        response(reason.status, reason.explanation)
    }

    public static func failure(_ failure: ConnectFailure) -> [UInt8] {
        response(failure.status, failure == .timeout ? "the target did not answer in time" : "the target refused the connection")
    }

    private static func response(_ status: (code: Int, phrase: String), _ text: String) -> [UInt8] {
        let body = text + "\n"
        return Array(
            ("HTTP/1.1 \(status.code) \(status.phrase)\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
    }
}
