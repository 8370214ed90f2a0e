/// The declared HA reversed-VPN fabric: one versioned YAML document (`apiVersion: havpn/v1`).
///
/// Every field has the vpn2-compatible default, so an empty document (plus `apiVersion`) describes
/// Gardener's default HA VPN: 2 servers, 2 shoot clients, `fd8f:6d53:b97a:1::/96`.
public struct Topology: Hashable, Sendable {
    public static let apiVersion = "havpn/v1"

    /// HA (taps, bond, tunnels, path-controller) or single (vpn2's non-HA tunnel: one server, `tun0`);
    /// see Topology+Mode.swift.
    public var mode: Mode = .ha
    public var transport: Transport = Transport()
    /// Number of VPN servers (taps per pod), 1...8.
    public var servers: Int = 2
    /// Number of vpn-shoot pods (shoot clients), 1...8.
    public var shootClients: Int = 2
    public var ipFamilies: [IPFamily] = [.ipv4]
    public var networks: Networks = Networks()
    /// kube-apiserver instances known in advance (more arrive through announcements at run time).
    public var apiservers: [ApiserverInstance] = []
    public var bond: BondOptions = BondOptions()
    public var devices: DeviceNames = DeviceNames()
    /// MTU of taps and bond; nil leaves the kernel default.
    public var mtu: Int? = nil
    public var timings: Timings = Timings()
    public var announcements: Announcements = Announcements()
    public var http: HTTPEndpoint = HTTPEndpoint()
    public var openvpn: OpenVPNSettings = OpenVPNSettings()
    /// Packet filter and NAT per role (PacketFilterSettings.swift).
    public var filter: PacketFilter = PacketFilter()
    public var nat: NAT = NAT()
    /// The HTTP CONNECT proxy of the server role; nil: none (see Topology+Proxy.swift).
    public var proxy: ConnectProxy? = nil

    public init() {}

    public struct Transport: Hashable, Sendable {
        /// Must be a /96 (vpn2's `VPNNetworkMask`).
        public var network: IPNetwork = IPNetwork("fd8f:6d53:b97a:1::/96")!
        public init() {}
    }

    public struct Networks: Hashable, Sendable {
        public var shoot: ShootNetworks = ShootNetworks()
        public var seedPods: [IPNetwork] = []
        public init() {}
    }

    public struct ShootNetworks: Hashable, Sendable {
        public var pods: [IPNetwork] = [IPNetwork("100.96.0.0/11")!]
        public var services: [IPNetwork] = [IPNetwork("100.64.0.0/13")!]
        public var nodes: [IPNetwork] = []
        public init() {}

        /// All shoot networks in declaration order: nodes, services, pods.
        public var all: [IPNetwork] { nodes + services + pods }
    }

    public struct ApiserverInstance: Hashable, Sendable {
        /// 1...0xffff; the bond address is `<transport>::a:<index>`.
        public var index: Int
        public var podIPs: [IPAddress]
        public init(index: Int, podIPs: [IPAddress]) {
            self.index = index
            self.podIPs = podIPs
        }
    }

    public enum BondMode: String, Hashable, Sendable, CaseIterable {
        case activeBackup = "active-backup"
        case balanceRR = "balance-rr"

        /// The kernel's IFLA_BOND_MODE value.
        public var kernelValue: UInt8 {
            switch self {
            case .activeBackup: 1
            case .balanceRR: 0
            }
        }
    }

    public enum FailOverMAC: String, Hashable, Sendable, CaseIterable {
        case none
        case active
        case follow

        /// The kernel's IFLA_BOND_FAIL_OVER_MAC value.
        public var kernelValue: UInt8 {
            switch self {
            case .none: 0
            case .active: 1
            case .follow: 2
            }
        }
    }

    public struct BondOptions: Hashable, Sendable {
        public var mode: BondMode = .activeBackup
        /// MII link monitoring interval in milliseconds.
        public var miimon: Int = 100
        /// Primary slave as a server index (tap<i>); nil for none. vpn2 uses 0.
        public var primary: Int? = 0
        public var failOverMAC: FailOverMAC = .active
        public var useCarrier: Bool = true
        public var numPeerNotif: Int = 5
        public init() {}
    }

    public struct DeviceNames: Hashable, Sendable {
        public var bond: String = "bond0"
        /// Taps are `<tapPrefix><server index>`.
        public var tapPrefix: String = "tap"
        /// apiserver side: `<apiserverTunnelPrefix><shoot client index>`.
        public var apiserverTunnelPrefix: String = "bond0-ip6tnl"
        /// shoot side: `<shootTunnelPrefix><hhhh>` (last two bytes of the peer's bond address).
        public var shootTunnelPrefix: String = "bond0ip6tnl"
        /// Single mode: openvpn's L3 device in the server and the vpn-shoot pod. openvpn creates and
        /// deletes it; havpn only routes through it and filters on it.
        public var tun: String = "tun0"
        public init() {}
    }

    /// Probe timings of the path controllers (HAVPNControl `PathController`, `ServerPathController`).
    ///
    /// Defaults chosen so that, with I = interval, T = timeout, N = unhealthyThreshold:
    /// - a dead path is switched away from within N·I + T = 12·100 ms + 300 ms = 1.5 s (target 2 s);
    /// - under 10 % independent probe loss a false switch within 10 minutes has probability
    ///   ≤ (600 s / I) · 0.1^N = 6 000 · 10⁻¹² = 6 · 10⁻⁹.
    /// The proofs are in the doc comment of `PathController`.
    public struct Timings: Hashable, Sendable {
        public var probeInterval: Duration = .milliseconds(100)
        public var probeTimeout: Duration = .milliseconds(300)
        /// Consecutive failed probes before a healthy client is declared dead.
        public var unhealthyThreshold: Int = 12
        /// Consecutive good probes before a dead client is declared healthy again.
        public var healthyThreshold: Int = 3
        /// Per-server path beacons (silent path death detection). Beacons ride inside openvpn's
        /// TCP session, so they are not lost at random like ICMP on a lossy path: a lower
        /// threshold at a lower rate keeps the load on the servers small (every request is
        /// flooded to all clients of a server) while detection stays ≤ 5 × 250 ms + 300 ms = 1.55 s.
        public var pathProbeInterval: Duration = .milliseconds(250)
        public var pathUnhealthyThreshold: Int = 5
        public var resyncInterval: Duration = .seconds(30)
        public var configPollInterval: Duration = .seconds(2)
        public init() {}
    }

    public enum AnnouncementFormat: String, Hashable, Sendable, CaseIterable {
        /// vpn2-compatible: payload is the kube-apiserver pod IP as ASCII.
        case vpn2
        /// havpn's own versioned message with sequence, lifetime, withdraw and optional HMAC.
        case havpn
    }

    public struct Announcements: Hashable, Sendable {
        public var port: Int = 5400
        public var interval: Duration = .seconds(1)
        public var format: AnnouncementFormat = .havpn
        /// Lifetime a peer is kept without a new announcement (vpn2: 10 minutes).
        public var lifetime: Duration = .seconds(60)
        /// Path of a file holding the shared HMAC key; nil disables authentication.
        public var keyFile: String? = nil
        /// Cap on remembered apiserver peers.
        public var maxPeers: Int = 64
        public init() {}
    }

    public struct HTTPEndpoint: Hashable, Sendable {
        public var address: String = "0.0.0.0"
        public var port: Int = 8080
        public init() {}
    }

    public struct OpenVPNSettings: Hashable, Sendable {
        /// Host name (or address) of the HTTP CONNECT proxy shoot clients dial through.
        public var proxyHost: String = "vpn-seed-server"
        public var proxyPort: Int = 8443
        /// Server host pattern; `{i}` is replaced by the server index.
        public var serverHost: String = "vpn-seed-server-{i}"
        public var serverPort: Int = 1194
        /// Header the proxy routes on; `{i}` is replaced by the server index.
        public var proxyHeader: String = "X-Gardener-Destination"
        public var proxyHeaderValue: String =
            "outbound|1194||vpn-seed-server-{i}.shoot--project--name.svc.cluster.local"
        public var keepalive: String = "10 30"
        /// Directory holding `ca.crt`, `ta.key` (tls-auth) and `<cn>.crt`/`<cn>.key` with cn =
        /// `server`, `vpn-seed-client` (apiserver role) or `vpn-shoot-client` (shoot role).
        public var secretsDir: String = "/srv/secrets"
        /// Client `proto`: `tcp-client` (dual stack), `tcp4-client` or `tcp6-client`.
        public var clientProtocol: String = "tcp-client"
        /// Server status file; `{i}` is replaced by the server index.
        public var statusFile: String = "/srv/status/openvpn-{i}.status"
        /// openvpn `verb` (0...11).
        public var verbosity: Int = 3
        /// Single mode: the server's `client-config-dir`, holding the `vpn-shoot-client` entry with the
        /// shoot networks' `iroute`s (`havpn openvpn-config --client-config-dir`). vpn2's path.
        public var clientConfigDir: String = "/client-config-dir"
        public init() {}
    }
}

/// Which side of the fabric this process configures.
public enum Role: String, Hashable, Sendable, CaseIterable {
    case apiserver
    case shoot
    case server
}

extension Topology.OpenVPNSettings {
    /// Why `text` cannot be openvpn's `keepalive <interval> <timeout>`, or nil when it can: two positive
    /// whole seconds, the timeout longer than the interval (openvpn refuses the reverse at start).
    /// The decoder and the config renderer both ask here, so `validate` rejects what `openvpn-config` would.
    public static func keepaliveProblem(_ text: String) -> String? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2,
            parts.allSatisfy({ !$0.isEmpty && $0.first != "0" && $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return "\"\(text)\" is not \"<interval> <timeout>\" in whole seconds, e.g. \"10 30\"" }
        guard let interval = Int(parts[0]), let timeout = Int(parts[1]), timeout > interval else {
            return "\"\(text)\": the timeout must be longer than the interval, e.g. \"10 30\""
        }
        return nil
    }
}
