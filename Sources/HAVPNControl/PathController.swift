import HAVPNModel

/// The apiserver-side path-controller: probes every shoot client's bond address (`::b:<j>`) and
/// picks the client whose `bond0-ip6tnl<j>` carries the routes to the shoot networks.
///
/// Choice of the active client (see ``PathSelector``, used here without fail-back): keep a
/// healthy (or not yet judged) active client; when it is dead, move to the lowest-index healthy
/// client; when none is healthy, keep the current one (routes stay, readiness false). There is no
/// fail-back: every switch breaks the long-running connections through the old client (NAT state
/// lives in the vpn-shoot pod), so a recovered client is not worth a second break.
/// At start no client is chosen until the first probe round is judged (every client answered,
/// or `probeTimeout` passed), so every apiserver starts on the lowest healthy client rather than
/// on whichever answered first.
///
/// ## Timing bounds (default ``HAVPNModel/Topology/Timings``)
/// Interval I = 100 ms, timeout T = 300 ms, dead after N = 12 consecutive losses, healthy
/// again after M = 3 consecutive replies.
///
/// **Detection.** Let the active client die at t₀. The first probe that gets no reply was sent at
/// s₁ < t₀ + I (every probe sent after t₀ is lost; one sent just before may be lost too, which only
/// helps). Probes are sent every I, so the N-th consecutive loss is the probe sent at
/// s₁ + (N−1)·I, which is declared lost at s₁ + (N−1)·I + T < t₀ + N·I + T. The switch is issued
/// in that same step: **switch-away < N·I + T = 1.2 s + 0.3 s = 1.5 s** (target 2 s; vpn2: ≈ 10–12 s).
/// This holds if the other client is healthy then, and it has been unless it lost N probes in a row.
///
/// **No false switch.** With independent loss probability p per probe, a switch away from a
/// live client needs N consecutive losses (outcomes are judged in sequence order). By the union
/// bound over the K = 600 s / I = 6 000 probes of 10 minutes,
/// P(false switch in 10 min) ≤ K · p^N = 6 000 · 0.1¹² = **6 · 10⁻⁹** at p = 10 %
/// (≈ 3 · 10⁻⁴ per year of continuous 10 % loss). A second, independent condition, the other
/// client being healthy, only lowers it.
/// For comparison N = 5 (the previous default) gives 6 000 · 10⁻⁵ = 6 %.
public struct PathController: Sendable {
    public struct Configuration: Hashable, Sendable {
        public var probe: ProbeMonitor.Configuration

        public init(probe: ProbeMonitor.Configuration) { self.probe = probe }

        /// probeInterval, probeTimeout, unhealthyThreshold, healthyThreshold.
        public init(timings: Topology.Timings) {
            probe = ProbeMonitor.Configuration(
                interval: timings.probeInterval,
                timeout: timings.probeTimeout,
                unhealthyThreshold: timings.unhealthyThreshold,
                healthyThreshold: timings.healthyThreshold
            )
        }

        /// The detection bound N·I + T proved above.
        public var detectionBound: Duration {
            probe.interval * probe.unhealthyThreshold + probe.timeout
        }
    }

    public enum Action: Hashable, Sendable {
        /// Send an ICMPv6 echo request with this sequence number to shoot client `client`'s bond address.
        case sendProbe(client: Int, sequence: UInt16)
        /// Point the shoot routes at `bond0-ip6tnl<to>`.
        case switchActive(from: Int?, to: Int)
        /// For metrics and logs.
        case healthChanged(client: Int, health: PathHealth)
        case readinessChanged(Readiness)
    }

    public let configuration: Configuration
    private var monitor: ProbeMonitor
    private var selector = PathSelector(initialActive: nil, failbackHold: nil)
    public private(set) var readiness: Readiness = .noHealthyPath
    /// End of the first probe round: `start + probeTimeout`.
    private let settledAt: Instant

    /// - Parameter initialActive: the client the routes use now (after a restart or a reload),
    ///   kept while it stays healthy so that restarting havpn never switches a working path
    ///   (a switch resets every open connection through it).
    public init(configuration: Configuration, clientCount: Int, initialActive: Int? = nil, at now: Instant) {
        self.configuration = configuration
        if let initialActive, (0..<clientCount).contains(initialActive) {
            selector = PathSelector(initialActive: initialActive, failbackHold: nil)
        }
        settledAt = now + configuration.probe.timeout
        monitor = ProbeMonitor(configuration: configuration.probe, targetCount: clientCount, at: now)
    }

    /// Health as the choice sees it: a healthy client other than the active one that lost more
    /// than a third of its recent probes is not a switch target. When every client loses probes
    /// at once, the cause is shared (a VPN server failing over, a node hiccup) and moving the
    /// routes would only reset the connections through the active client (its SNAT address
    /// changes); a client that really died leaves the others answering cleanly. Under 10 %
    /// independent loss a candidate loses more than 4 of 12 probes with probability ≈ 0.4 %, and
    /// is then re-evaluated on the next event.
    private var eligibleHealth: [PathHealth] {
        monitor.healths.indices.map { i in
            let h = monitor.healths[i]
            guard i != selector.active, h == .healthy else { return h }
            return monitor.recentLosses(of: i) * 3 > configuration.probe.unhealthyThreshold ? .unknown : h
        }
    }

    /// Whether the client answered its most recently judged probe (health lags behind by the
    /// hysteresis: a recovering client answers before it is declared healthy).
    public func answeredLastProbe(_ client: Int) -> Bool { monitor.answeredLastProbe(client) }

    /// The client whose tunnel carries the routes, if one was ever chosen.
    public var active: Int? { selector.active }
    public var clientCount: Int { monitor.targetCount }
    public func health(of client: Int) -> PathHealth { monitor.health(of: client) }
    public func statistics(of client: Int) -> ProbeMonitor.Statistics? { monitor.statistics(of: client) }
    /// Call ``tick(at:)`` no later than this.
    public var nextDeadline: Instant? { monitor.nextDeadline }

    public mutating func tick(at now: Instant) -> [Action] {
        process(monitor.tick(at: now), at: now, force: selector.active == nil && now >= settledAt)
    }

    public mutating func probeSent(client: Int, sequence: UInt16, at now: Instant) {
        monitor.probeSent(target: client, sequence: sequence, at: now)
    }

    public mutating func probeFailed(client: Int, sequence: UInt16, at now: Instant) -> [Action] {
        process(monitor.probeFailed(target: client, sequence: sequence, at: now), at: now)
    }

    public mutating func probeReply(client: Int, sequence: UInt16, rtt: Duration, at now: Instant) -> [Action] {
        process(monitor.probeReply(target: client, sequence: sequence, rtt: rtt, at: now), at: now)
    }

    /// Puts the choice back on `client` (a supervisor vetoed a switch) without rebuilding the
    /// controller, so every other client keeps its hysteresis. `rejudging` also forgets the
    /// client's own verdict, for a client whose losses were the fabric settling.
    public mutating func keep(client: Int, rejudging: Bool) {
        guard (0..<monitor.targetCount).contains(client) else { return }
        selector.keep(client)
        if rejudging { monitor.rejudge(target: client) }
    }

    /// The number of shoot clients changed. New clients start unknown and are probed at once; if
    /// the active client is removed, the lowest healthy one takes over (if none is healthy there
    /// is no active client until one is).
    public mutating func setClientCount(_ count: Int, at now: Instant) -> [Action] {
        monitor.setTargetCount(count, at: now)
        return process([], at: now, force: true)
    }

    private mutating func process(_ outputs: [ProbeMonitor.Output], at now: Instant, force: Bool = false) -> [Action] {
        var actions: [Action] = []
        actions.reserveCapacity(outputs.count)
        for o in outputs {
            switch o {
            case .sendProbe(let t, let s): actions.append(.sendProbe(client: t, sequence: s))
            case .healthChanged(let t, let h): actions.append(.healthChanged(client: t, health: h))
            }
        }
        // The choice only changes with health (no fail-back here), so skip it on plain probe events.
        // Until the first probe round is settled (every client judged, or its timeout passed), no
        // client is chosen, so that every apiserver starts on the same (lowest healthy) client
        // instead of on whichever answered first.
        // While the active client is dead, every event re-evaluates: a candidate held back as
        // noisy (below) becomes eligible without any health change.
        var healthChanged = false
        for o in outputs { if case .healthChanged = o { healthChanged = true } }
        let activeDead = selector.active.map { monitor.health(of: $0) == .dead } ?? false
        guard healthChanged || force || activeDead else { return actions }
        if selector.active == nil, now < settledAt, monitor.healths.contains(.unknown) { return actions }
        if case .switchActive(let from, let to)? = selector.update(health: eligibleHealth, at: now) {
            actions.append(.switchActive(from: from, to: to))
        }
        let r: Readiness = selector.activeIsHealthy ? .ready : .noHealthyPath
        if r != readiness {
            readiness = r
            actions.append(.readinessChanged(r))
        }
        return actions
    }
}
