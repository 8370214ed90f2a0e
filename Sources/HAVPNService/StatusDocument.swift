import FoundationEssentials
import HAVPNModel

/// What `/status` serves and `havpn status` prints: the live state of one side-car, as the run
/// loop saw it at its last turn (at most ``SideCarLoop/heartbeat`` old). Ages are in seconds.
///
/// A document rather than more metrics: an operator asking "which server does this pod's bond
/// use, which shoot client does this kube-apiserver route through, since when" wants one answer
/// per pod, not a query. Fields that mean nothing for the role are absent (`null`).
public struct StatusDocument: Codable, Hashable, Sendable {
    public var role: String
    public var index: Int
    public var version: String
    public var uptimeSeconds: Double
    public var ready: Bool
    public var reasons: [String]
    /// Every role with an active-backup bond.
    public var bond: Bond?
    /// apiserver role.
    public var shootClients: ShootClients?
    public var tunnels: [Tunnel]
    /// shoot role: the kube-apiserver pods the tunnels lead to.
    public var peers: [Peer]?
    public var lastReconcile: LastReconcile?
    public var backoff: Backoff

    public struct Bond: Codable, Hashable, Sendable {
        /// The VPN server whose tap the bond prefers.
        public var server: Int
        public var paths: [ServerPath]
    }

    public struct ServerPath: Codable, Hashable, Sendable {
        public var server: Int
        /// unknown, healthy, dead or no-beacon-peers (``ServerPathSupervisor/PathStatus``).
        public var status: String
    }

    public struct ShootClients: Codable, Hashable, Sendable {
        /// The client the shoot networks are routed through.
        public var active: Int
        public var clients: [ShootClient]
    }

    public struct ShootClient: Codable, Hashable, Sendable {
        public var client: Int
        /// unknown, healthy or dead.
        public var health: String
        public var lossRatio: Double?
        /// nil while the last probe is unanswered.
        public var rttSeconds: Double?
    }

    public struct Tunnel: Codable, Hashable, Sendable {
        public var device: String
        /// Since this side-car first planned it.
        public var ageSeconds: Double
    }

    public struct Peer: Codable, Hashable, Sendable {
        public var bondAddress: String
        public var podIPs: [String]
        /// Since this side-car first knew it (announced, or found in the kernel at start).
        public var ageSeconds: Double
    }

    public struct LastReconcile: Codable, Hashable, Sendable {
        public var ageSeconds: Double
        public var reasons: String
        /// converged, not-converged or failed.
        public var outcome: String
        public var actions: Int
        public var error: String?
    }

    public struct Backoff: Codable, Hashable, Sendable {
        public var consecutiveFailures: Int
        /// The wait after the last failure; 0 after a success.
        public var delaySeconds: Double
    }

    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data()) + [10]
    }

    public init(json bytes: [UInt8]) throws(HAVPNError) {
        do {
            self = try JSONDecoder().decode(StatusDocument.self, from: Data(bytes))
        } catch {
            throw HAVPNError(.io, "the /status answer is not a havpn status document: \(error)")
        }
    }

    init(
        role: String,
        index: Int,
        version: String,
        uptimeSeconds: Double,
        ready: Bool,
        reasons: [String],
        bond: Bond? = nil,
        shootClients: ShootClients? = nil,
        tunnels: [Tunnel] = [],
        peers: [Peer]? = nil,
        lastReconcile: LastReconcile? = nil,
        backoff: Backoff = Backoff(consecutiveFailures: 0, delaySeconds: 0)
    ) {
        self.role = role
        self.index = index
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.ready = ready
        self.reasons = reasons
        self.bond = bond
        self.shootClients = shootClients
        self.tunnels = tunnels
        self.peers = peers
        self.lastReconcile = lastReconcile
        self.backoff = backoff
    }
}
