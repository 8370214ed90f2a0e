import HAVPNModel

/// Detects silent death of a VPN server's path and tells the bond which tap to use.
///
/// The bond's own monitor (`miimon` + `use_carrier`) only sees the tap carrier, which stays up
/// while the local openvpn process runs, even if the server or the path behind it is gone (vpn2
/// fails over only after openvpn's 30 s `ping-restart`). Here every server path `i` is probed
/// separately (the I/O layer sends the echo for target `i` out of `tap<i>`, e.g. to a peer's bond
/// address), judged by the same ``HealthHysteresis`` as the shoot clients, and a ``PathSelector``
/// **with fail-back** picks the tap: keep a live active tap, fail over at once to the lowest
/// tap that has been healthy for `failoverHold` (default 5 s), fail back to a lower tap only after
/// it has been healthy for `failbackHold` (default 5 s) and the last switch is that old.
/// Converging on the lowest healthy tap keeps all endpoints on the same segment (vpn2 PR #25).
/// The fail-over hold costs nothing when one server is cut off among stable ones, and stops the
/// bonds from hopping between segments when every path flaps (measured in the e2e lab: a
/// starved openvpn server lets beacons lapse for ~1.5 s at a time, on both servers in turn).
///
/// ## Timing bounds (defaults: pathProbeInterval I = 250 ms, probeTimeout T = 300 ms,
/// pathUnhealthyThreshold N = 5, healthyThreshold M = 3, failbackHold H = failoverHold = 5 s)
/// - A partition of the active segment is acted on (`setBondActive`) within N·I + T = 1.55 s,
///   by the argument of ``PathController``.
/// - After the partition heals, the old tap is healthy again after M probes (≈ M·I + RTT) and
///   the bond moves back exactly once, H after that (≈ 5.3 s); no move happens while it flaps.
/// - A partition is left at once only for a tap healthy for `failoverHold`; otherwise when the
///   first tap has been healthy that long. If every tap flaps, the bond stays where it is.
/// - Fail-back goes only to a path that also reaches every pod heard on any path (see
///   ``PathSelector``, rule 5), so all endpoints move back together once the last VPN client has
///   reconnected to the returning server, instead of each one a hold after its own reconnect.
/// - Beacons ride inside openvpn's TCP session through the HTTP CONNECT proxy, so loss on the
///   network shows up as delay, not as independent beacon loss; a false verdict needs the
///   server path to stall for N·I + T.
public struct ServerPathController: Sendable {
    public struct Configuration: Hashable, Sendable {
        public var probe: ProbeMonitor.Configuration
        public var failbackHold: Duration
        /// How long a path must have been healthy before the bond fails over to it.
        public var failoverHold: Duration

        public init(
            probe: ProbeMonitor.Configuration,
            failbackHold: Duration = .seconds(5),
            failoverHold: Duration = .seconds(5)
        ) {
            self.probe = probe
            self.failbackHold = failbackHold
            self.failoverHold = failoverHold
        }

        /// pathProbeInterval, probeTimeout, pathUnhealthyThreshold, healthyThreshold.
        public init(
            timings: Topology.Timings,
            failbackHold: Duration = .seconds(5),
            failoverHold: Duration = .seconds(5)
        ) {
            probe = ProbeMonitor.Configuration(
                interval: timings.pathProbeInterval,
                timeout: timings.probeTimeout,
                unhealthyThreshold: timings.pathUnhealthyThreshold,
                healthyThreshold: timings.healthyThreshold
            )
            self.failbackHold = failbackHold
            self.failoverHold = failoverHold
        }
    }

    /// How long a peer heard on a path counts as reachable there: two detection periods, so that
    /// the loss that does not make a path dead does not make it incomplete either.
    public var peerMemory: Duration {
        configuration.probe.interval * (2 * configuration.probe.unhealthyThreshold) + configuration.probe.timeout
    }

    /// How long a peer must have been heard on a path before it counts there: as long as a path
    /// takes to turn healthy (M replies), so that the pod that reconnects last (which sees its
    /// path turn healthy M rounds after connecting) and the pods that hear it arrive agree on
    /// when the path became complete.
    public var peerSettling: Duration { configuration.probe.interval * (configuration.probe.healthyThreshold - 1) }

    public enum Action: Hashable, Sendable {
        /// Send an echo for server path `server` (out of `tap<server>`).
        case sendProbe(server: Int, sequence: UInt16)
        /// Make `tap<server>` the bond's active slave (IFLA_BOND_ACTIVE_SLAVE).
        case setBondActive(server: Int)
        case healthChanged(server: Int, health: PathHealth)
        case readinessChanged(Readiness)
    }

    public let configuration: Configuration
    private var monitor: ProbeMonitor
    private var selector: PathSelector
    public private(set) var readiness: Readiness = .noHealthyPath
    /// Per path: the pods heard on it, since when (without a gap longer than ``peerMemory``) and when last.
    private var heard: [[Identity: (first: Instant, last: Instant)]]
    /// Completeness as of the last ``process(at:)``, starting all true as the selector assumes: a
    /// change since then updates the selector even without a health change. (The selector's own copy
    /// starts empty and would force an update at the first call.)
    private var lastComplete: [Bool]

    /// - Parameter initialActive: the tap the bond uses at start (its primary, vpn2: 0).
    public init(configuration: Configuration, serverCount: Int, initialActive: Int? = 0, at now: Instant) {
        self.configuration = configuration
        monitor = ProbeMonitor(configuration: configuration.probe, targetCount: serverCount, at: now)
        selector = PathSelector(
            initialActive: initialActive,
            failbackHold: configuration.failbackHold,
            failoverHold: configuration.failoverHold
        )
        heard = Array(repeating: [:], count: serverCount)
        lastComplete = Array(repeating: true, count: serverCount)
    }

    public var active: Int? { selector.active }

    /// Pods heard on `server`'s path for ``peerSettling``, the last time within ``peerMemory``.
    public func peers(on server: Int, at now: Instant) -> Set<Identity> {
        guard heard.indices.contains(server) else { return [] }
        return Set(
            heard[server].filter { now - $0.value.last <= peerMemory && $0.value.last - $0.value.first >= peerSettling }
                .keys
        )
    }

    /// Per path: whether it reaches every pod heard on any path (all complete while none is heard).
    public func completeness(at now: Instant) -> [Bool] {
        let onPath = heard.indices.map { peers(on: $0, at: now) }
        let all = onPath.reduce(into: Set<Identity>()) { $0.formUnion($1) }
        return onPath.map { $0.isSuperset(of: all) }
    }

    /// A pod answered a beacon on `server`'s path (any pod, not only those whose replies prove
    /// the path): completeness, see ``PathSelector``.
    public mutating func peerHeard(server: Int, peer: Identity, at now: Instant) -> [Action] {
        guard heard.indices.contains(server) else { return [] }
        if let seen = heard[server][peer], now - seen.last <= peerMemory {
            heard[server][peer] = (seen.first, now)
        } else {
            heard[server][peer] = (now, now)
        }
        return process([], at: now)
    }
    /// Taps whose path is proven healthy.
    public var usableServers: [Int] { monitor.healths.indices.filter { monitor.healths[$0] == .healthy } }
    public func health(of server: Int) -> PathHealth { monitor.health(of: server) }
    public func statistics(of server: Int) -> ProbeMonitor.Statistics? { monitor.statistics(of: server) }

    /// Call ``tick(at:)`` no later than this (next probe, timeout or due fail-back).
    public var nextDeadline: Instant? {
        switch (monitor.nextDeadline, selector.nextDeadline) {
        case (let a?, let b?): min(a, b)
        case (let a, let b): a ?? b
        }
    }

    /// The next probe or timeout alone, without a due fail-over or fail-back (which a supervisor
    /// that vetoes moves must not wake for again and again).
    public var probeDeadline: Instant? { monitor.nextDeadline }

    public mutating func tick(at now: Instant) -> [Action] { process(monitor.tick(at: now), at: now) }

    public mutating func probeSent(server: Int, sequence: UInt16, at now: Instant) {
        monitor.probeSent(target: server, sequence: sequence, at: now)
    }

    public mutating func probeFailed(server: Int, sequence: UInt16, at now: Instant) -> [Action] {
        process(monitor.probeFailed(target: server, sequence: sequence, at: now), at: now)
    }

    public mutating func probeReply(server: Int, sequence: UInt16, rtt: Duration, at now: Instant) -> [Action] {
        process(monitor.probeReply(target: server, sequence: sequence, rtt: rtt, at: now), at: now)
    }

    /// Puts the choice back on `server` (a supervisor vetoed a move) without rebuilding the
    /// controller: every path keeps its hysteresis and how long it has been healthy.
    public mutating func keep(server: Int) {
        guard (0..<monitor.targetCount).contains(server) else { return }
        selector.keep(server)
    }

    /// Chooses again from what is known now (a veto ended).
    public mutating func reevaluate(at now: Instant) -> [Action] { process([], at: now, force: true) }

    public mutating func setServerCount(_ count: Int, at now: Instant) -> [Action] {
        monitor.setTargetCount(count, at: now)
        heard = Array(heard.prefix(count)) + Array(repeating: [:], count: max(0, count - heard.count))
        return process([], at: now, force: true)
    }

    private mutating func process(_ outputs: [ProbeMonitor.Output], at now: Instant, force: Bool = false) -> [Action] {
        var actions: [Action] = []
        actions.reserveCapacity(outputs.count)
        for o in outputs {
            switch o {
            case .sendProbe(let t, let s): actions.append(.sendProbe(server: t, sequence: s))
            case .healthChanged(let t, let h): actions.append(.healthChanged(server: t, health: h))
            }
        }
        // The choice changes only with health or when a fail-back falls due.
        let healthChanged = actions.contains { if case .healthChanged = $0 { true } else { false } }
        let failbackDue = selector.nextDeadline.map { now >= $0 } ?? false
        let complete = completeness(at: now)
        let completenessChanged = complete != lastComplete
        lastComplete = complete
        for i in heard.indices where heard[i].count > 64 {
            heard[i] = heard[i].filter { now - $0.value.last <= peerMemory }
        }
        guard healthChanged || failbackDue || completenessChanged || force else { return actions }
        if case .switchActive(_, let to)? = selector.update(health: monitor.healths, complete: complete, at: now) {
            actions.append(.setBondActive(server: to))
        }
        let r: Readiness = selector.activeIsHealthy ? .ready : .noHealthyPath
        if r != readiness {
            readiness = r
            actions.append(.readinessChanged(r))
        }
        return actions
    }
}
