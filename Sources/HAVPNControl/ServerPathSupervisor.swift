import HAVPNModel

/// Every role with a bond: which VPN server's tap the bond prefers, with the side-car's policy on
/// top of ``ServerPathController``: the **start-up grace**.
///
/// Only a path that carried beacons and then stopped is a partition. At start every path looks
/// dead until openvpn connects, and moving to whichever server connects first would split the pods
/// across servers (a tap without carrier is already left by the bond itself). So a move away from
/// a path never seen healthy is vetoed until ``startupGrace`` (longer than openvpn needs to
/// connect: connect-retry 1 5 plus TLS) has passed since start; the controller is put back on the
/// current path, keeping what it knows, and chooses again when the grace ends. After that a
/// never-healthy path is left too, so a side-car restarted during a partition still moves.
///
/// States: `starting(until:)` while the grace lasts, `vetoed(until:)` once a move was held back,
/// `running` after it.
///
/// A path on which no beacon reply was ever seen is not called dead but ``PathStatus/noBeaconPeers``:
/// next to vpn2 pods (mixed fleets, a migration) nobody answers havpn's L2 beacons although the
/// fabric is fine, and the beacons can prove nothing either way. Only a path that answered once and
/// then stopped is a partition.
public struct ServerPathSupervisor: Sendable {
    /// What a server path reads as, for logs, metrics and `/status`.
    public enum PathStatus: String, Hashable, Sendable {
        /// No verdict yet.
        case unknown
        case healthy
        /// Answered beacons once, and no longer does.
        case dead
        /// No beacon reply ever seen (e.g. only vpn2 peers on it): health unknown, not a failure.
        case noBeaconPeers = "no-beacon-peers"
    }

    public enum Action: Hashable, Sendable {
        /// Send beacon request `sequence` out of `tap<server>`.
        case sendBeacon(server: Int, sequence: UInt16)
        /// Prefer `tap<to>` in the bond (a failover or failback starts: hold client switches).
        case moveBond(from: Int, to: Int)
        /// A server path turned healthy or dead: the silent variant of a tap change.
        case healthChanged(server: Int, health: PathHealth)
    }

    public enum State: Hashable, Sendable {
        case starting(until: Instant)
        case vetoed(until: Instant)
        case running
    }

    public static let startupGrace: Duration = .seconds(30)

    public private(set) var controller: ServerPathController
    /// The server whose tap the bond prefers now.
    public private(set) var preferred: Int
    private let graceEnds: Instant
    private var vetoed = false
    private var seenHealthy: Set<Int> = []
    /// Servers on which at least one beacon reply arrived.
    public private(set) var answered: Set<Int> = []
    private var sentAt: [Int: [UInt16: Instant]] = [:]

    public init(
        configuration: ServerPathController.Configuration,
        serverCount: Int,
        preferred: Int,
        startedAt: Instant,
        at now: Instant
    ) {
        controller = ServerPathController(
            configuration: configuration,
            serverCount: serverCount,
            initialActive: preferred,
            at: now
        )
        self.preferred = preferred
        graceEnds = startedAt + Self.startupGrace
    }

    /// A new configuration or server count: a new controller on the preferred tap (`preferred`
    /// when the old one no longer exists); the grace and the paths seen healthy stay.
    public mutating func reconfigure(
        configuration: ServerPathController.Configuration,
        serverCount: Int,
        preferred: Int,
        at now: Instant
    ) {
        self.preferred = preferred
        answered = answered.filter { $0 < serverCount }
        controller = ServerPathController(
            configuration: configuration,
            serverCount: serverCount,
            initialActive: preferred,
            at: now
        )
    }

    /// Whether a beacon reply was ever seen on `server`'s path.
    public func hasBeaconPeers(_ server: Int) -> Bool { answered.contains(server) }

    public func status(of server: Int) -> PathStatus {
        switch controller.health(of: server) {
        case .unknown: .unknown
        case .healthy: .healthy
        case .dead: answered.contains(server) ? .dead : .noBeaconPeers
        }
    }

    public func state(at now: Instant) -> State {
        guard now < graceEnds else { return .running }
        return vetoed ? .vetoed(until: graceEnds) : .starting(until: graceEnds)
    }

    /// Call ``tick(at:)`` no later than this. While a move is vetoed, the controller's due
    /// fail-over is not a deadline (it would be due, and vetoed, at every instant): the grace's end is.
    public var nextDeadline: Instant? {
        switch (vetoed ? controller.probeDeadline : controller.nextDeadline, vetoed ? graceEnds : nil) {
        case (let a?, let b?): min(a, b)
        case (let a, let b): a ?? b
        }
    }

    public mutating func tick(at now: Instant) -> [Action] {
        var actions = handle(controller.tick(at: now), at: now)
        if vetoed, now >= graceEnds {
            vetoed = false
            actions += handle(controller.reevaluate(at: now), at: now)
        }
        return actions
    }

    public mutating func beaconReply(server: Int, sequence: UInt16, at now: Instant) -> [Action] {
        guard let sent = sentAt[server]?.removeValue(forKey: sequence) else { return [] }
        answered.insert(server)
        return handle(controller.probeReply(server: server, sequence: sequence, rtt: now - sent, at: now), at: now)
    }

    /// Any pod answered a beacon on `server`'s path (see ``ServerPathController/peerHeard(server:peer:at:)``).
    public mutating func peerHeard(server: Int, peer: Identity, at now: Instant) -> [Action] {
        handle(controller.peerHeard(server: server, peer: peer, at: now), at: now)
    }

    private mutating func handle(_ actions: [ServerPathController.Action], at now: Instant) -> [Action] {
        var out: [Action] = []
        for action in actions {
            switch action {
            case .sendProbe(let server, let sequence):
                controller.probeSent(server: server, sequence: sequence, at: now)
                sentAt[server, default: [:]][sequence] = now
                if sentAt[server]!.count > 64 {
                    sentAt[server] = sentAt[server]!.filter { now - $0.value < .seconds(5) }
                }
                out.append(.sendBeacon(server: server, sequence: sequence))
            case .setBondActive:
                break  // followed below, when allowed
            case .healthChanged(let server, let health):
                if health.isHealthy { seenHealthy.insert(server) }
                out.append(.healthChanged(server: server, health: health))
            case .readinessChanged:
                break
            }
        }
        if let move = follow(at: now) { out.append(move) }
        return out
    }

    /// Moves the bond to the path the controller chose, once that is allowed.
    private mutating func follow(at now: Instant) -> Action? {
        guard let chosen = controller.active, chosen != preferred else { return nil }
        guard seenHealthy.contains(preferred) || now >= graceEnds else {
            // A choice made while the current path had not answered yet is start-up noise:
            // put the controller back on the current path and choose again when the grace ends.
            controller.keep(server: preferred)
            vetoed = true
            return nil
        }
        let from = preferred
        preferred = chosen
        return .moveBond(from: from, to: chosen)
    }
}
