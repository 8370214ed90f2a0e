import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import HAVPNReconcile

/// What the side-car must do in the world after an event.
enum SideCarEffect: Sendable, Equatable {
    case sendProbe(to: IPv6Address, sequence: UInt16)
    /// `to`: the requester's MAC for a reply (unicast), nil for a request (broadcast).
    case sendBeacon(server: Int, bytes: [UInt8], to: [UInt8]?)
    case sendAnnouncement(to: IPv6Address, payload: [UInt8])
    /// Run one reconcile pass on the kernel thread; `reconciled` reports back.
    case reconcile(DesiredState, reasons: ReconcileReasons)
}

/// The run loop's brain, in NIO's style: events and an `Instant` in, effects out; no sockets, no clock.
///
/// It composes HAVPNControl's machines (``ClientPathSupervisor``, ``ServerPathSupervisor``,
/// ``ApiserverPeerSet``, the announcement scheduler, the reconcile trigger), where the policy
/// lives, turns their decisions into planner inputs, and keeps the last good topology when a new
/// file is invalid. No logger and no metrics either: it records what happened as
/// ``SideCarObservation``s, which the loop drains after each turn (``takeObservations()``) and
/// hands to ``SideCarObserver``. A buffer rather than a second return value: the init and
/// ``configRejected(_:)`` observe too but return no effects, and the loop feeds several events per
/// turn yet observes once, in order.
struct SideCarCore {
    private(set) var topology: Topology
    let identity: Identity
    let podIPs: [IPAddress]
    let key: AnnouncementKey?
    /// Milliseconds since 1970 when the process started, read by the shell: the announcement
    /// sequence must grow across restarts of the process, so it starts from the wall clock.
    let wallClockMilliseconds: Int64

    /// Set by the path supervision's decisions (SideCarCore+Paths.swift) as well.
    var inputs: ControllerInputs
    /// What happened since the shell last drained; appended by the extensions too (``record(_:)``).
    private(set) var observations: [SideCarObservation] = []
    private(set) var configError: String?
    private(set) var lastReconcileError: String?
    private(set) var converged = false
    /// The path supervisions, fed by probe replies and beacons in SideCarCore+Paths.swift as well.
    var clientPaths: ClientPathSupervisor?
    var serverPaths: ServerPathSupervisor?
    private(set) var peers: ApiserverPeerSet?
    private var scheduler: AnnouncementScheduler?
    /// Internal for SideCarCore+Paths.swift, whose decisions trigger reconciles too.
    var trigger = ReconcileTrigger()
    private(set) var backoff = ReconcileBackoff()
    private var reconcileInFlight = false
    private var nextResync: Instant
    let startedAt: Instant
    /// What `/status` shows of the last pass.
    private(set) var lastReconcile: ReconcileRecord?
    private var lastConflictCount: Int?
    /// When each tunnel device and each apiserver peer first appeared (their ages on `/status`).
    private(set) var tunnelsSince: [String: Instant] = [:]
    private(set) var peersSince: [IPv6Address: Instant] = [:]
    /// Single mode (SideCarCore+Single.swift): routes the last pass left waiting for tun0, and the
    /// server's openvpn status file as last read.
    private(set) var waiting: [String] = []
    var openvpnStatus: OpenVPNStatus?
    var openvpnStatusProblem: String?

    var plan: AddressPlan { AddressPlan(topology: topology) }

    /// When a coalesced reconcile is due, so the loop can wake for it rather than at its next tick;
    /// after a failure no earlier than the backoff allows.
    var reconcileDeadline: Instant? {
        guard !reconcileInFlight, let due = trigger.deadline else { return nil }
        guard let retryAt = backoff.retryAt else { return due }
        return max(due, retryAt)
    }

    /// The earliest instant at which ``tick(at:)`` has something to do: the run loop sleeps until
    /// then (or until an event), so the controllers' proven bounds hold without a fixed tick.
    var nextDeadline: Instant {
        var due = nextResync
        func consider(_ d: Instant?) { if let d, d < due { due = d } }
        consider(reconcileDeadline)
        consider(clientPaths?.nextDeadline)
        consider(serverPaths?.nextDeadline)
        consider(peers?.nextDeadline)
        consider(scheduler?.nextDeadline)
        return due
    }

    init(
        topology: Topology,
        identity: Identity,
        podIPs: [IPAddress],
        key: AnnouncementKey?,
        learned: ControllerInputs,
        wallClockMilliseconds: Int64,
        at now: Instant
    ) {
        self.wallClockMilliseconds = wallClockMilliseconds
        self.topology = topology
        self.identity = identity
        self.podIPs = podIPs
        self.key = key
        inputs = ControllerInputs(activeShootClient: learned.activeShootClient)
        startedAt = now
        nextResync = now + topology.timings.resyncInterval
        setUpControllers(bootstrap: learned.apiserverPeers, at: now)
        record(.started(activeShootClient: inputs.activeShootClient))
    }

    /// Notes what happened, for the shell's observer.
    mutating func record(_ observation: SideCarObservation) { observations.append(observation) }

    /// The conflict count is checked at every tick (conflicts expire with time) but observed only
    /// when it changes: the gauge keeps its value, and the stream stays quiet.
    private mutating func noteConflictCount(_ count: Int) {
        guard count != lastConflictCount else { return }
        lastConflictCount = count
        record(.addressConflicts(count: count))
    }

    /// What happened since the last call, oldest first; the shell logs and counts it.
    mutating func takeObservations() -> [SideCarObservation] {
        defer { observations.removeAll() }
        return observations
    }

    /// - Parameter bootstrap: at start, the peers whose tunnels the kernel still has.
    private mutating func setUpControllers(bootstrap: [ApiserverPeer] = [], at now: Instant) {
        let plan = self.plan
        // Single mode has one path and no announcements: none of the HA machines run.
        guard topology.mode == .ha else { return }
        switch identity.role {
        case .apiserver:
            let configuration = PathController.Configuration(timings: topology.timings)
            if clientPaths == nil {
                clientPaths = ClientPathSupervisor(
                    configuration: configuration,
                    clientCount: topology.shootClients,
                    routed: inputs.activeShootClient,
                    at: now
                )
            } else {
                clientPaths!.reconfigure(configuration: configuration, clientCount: topology.shootClients, at: now)
            }
            if let own = plan.bondAddress(of: identity) {
                scheduler = AnnouncementScheduler(
                    configuration: .init(announcements: topology.announcements, bondAddress: own, key: key),
                    targets: (0..<topology.shootClients).map(plan.shootClientBondAddress),
                    // vpn2's path-controller announces the 241/8 stand-in when networks overlap: the
                    // shoot routes what it is told (a vpn2 shoot does not map).
                    podIPs: podIPs.map(topology.netmap.mapped),
                    initialSequence: UInt64(max(0, now.nanoseconds)) &+ UInt64(max(0, wallClockMilliseconds)) << 16,
                    at: now
                )
            }
        case .shoot:
            let configuration = TunnelRegistry.Configuration(topology: topology, key: key)
            if peers == nil {
                peers = ApiserverPeerSet(configuration: configuration, bootstrap: bootstrap, at: now)
            } else {
                peers!.rebuild(configuration: configuration, plan: plan, at: now)
            }
            inputs.apiserverPeers = currentPeers
            notePeers(at: now)
        case .server:
            break
        }
        if identity.role != .server, topology.bond.mode == .activeBackup {
            if let p = inputs.preferredServer, p >= topology.servers { inputs.preferredServer = nil }
            let configuration = ServerPathController.Configuration(timings: topology.timings)
            let preferred = inputs.preferredServer ?? topology.bond.primary ?? 0
            if serverPaths == nil {
                serverPaths = ServerPathSupervisor(
                    configuration: configuration,
                    serverCount: topology.servers,
                    preferred: preferred,
                    startedAt: startedAt,
                    at: now
                )
            } else {
                serverPaths!.reconfigure(
                    configuration: configuration,
                    serverCount: topology.servers,
                    preferred: preferred,
                    at: now
                )
            }
        }
    }

    // MARK: - Events

    mutating func start(at now: Instant) -> [SideCarEffect] {
        trigger.trigger(.configChanged, at: now - trigger.configuration.window)
        return tick(at: now)
    }

    mutating func tick(at now: Instant) -> [SideCarEffect] {
        var effects: [SideCarEffect] = []
        if var cp = clientPaths {
            let actions = cp.tick(at: now)
            clientPaths = cp
            effects += apply(actions, at: now)
            recordProbeStatistics()
        }
        if var sp = serverPaths {
            let actions = sp.tick(at: now)
            serverPaths = sp
            effects += apply(actions, at: now)
        }
        if var p = peers {
            let step = p.tick(at: now)
            peers = p
            if step.changed { peersChanged(at: now) }
            noteConflictCount(p.registry.conflicts(at: now).count)
        }
        if var s = scheduler {
            let actions = s.tick(at: now)
            scheduler = s
            effects += announcementEffects(actions)
        }
        if now >= nextResync {
            nextResync = now + topology.timings.resyncInterval
            trigger.trigger(.timer, at: now)
        }
        effects += startReconcileIfDue(at: now)
        return effects
    }

    /// The topology file's new bytes, as read (see ``TopologyDecoder/decode(yaml:file:)-([UInt8],_)``).
    mutating func configChanged(yaml: [UInt8], file: String, at now: Instant) -> [SideCarEffect] {
        do {
            let new = try TopologyDecoder.decode(yaml: yaml, file: file)
            try Identity.validate(role: identity.role, index: identity.index, topology: new, source: "--index")
            if new.mode != topology.mode {
                // The sockets (announcements, beacons) are opened at start for the mode.
                throw HAVPNError(
                    .invalidValue,
                    "mode changed from \(topology.mode.rawValue) to \(new.mode.rawValue); a change of mode takes a restart",
                    keyPath: "mode"
                )
            }
            configError = nil
            record(.topologyValid)
            guard new != topology else { return [] }
            record(.topologyChanged(file: file))
            let old = topology
            topology = new
            for client in new.shootClients..<max(new.shootClients, old.shootClients) {
                record(.shootClientRemoved(client))
            }
            for server in new.servers..<max(new.servers, old.servers) { record(.serverRemoved(server)) }
            if old.shootClients != new.shootClients || old.servers != new.servers
                || old.timings != new.timings || old.announcements != new.announcements
                || old.transport != new.transport || old.devices != new.devices
                || old.bond != new.bond
            {
                setUpControllers(at: now)
            }
            trigger.trigger(.configChanged, at: now)
            // The new topology may be the fix for the last failure: try it without waiting.
            backoff.expedite()
            return startReconcileIfDue(at: now)
        } catch {
            configRejected("\(error)")
            return []
        }
    }

    mutating func configRejected(_ message: String) {
        record(.topologyRejected(message: message, repeated: configError == message))
        configError = message
    }

    mutating func kernelEvent(_ event: KernelEvent, at now: Instant) -> [SideCarEffect] {
        switch event {
        case .link: trigger.trigger(.drift(.link), at: now)
        case .serverTap:
            clientPaths?.tapChanged(at: now)
            trigger.trigger(.drift(.link), at: now)
        case .address: trigger.trigger(.drift(.address), at: now)
        case .ownedRoute: trigger.trigger(.drift(.route), at: now)
        case .overflow: trigger.trigger(.netlinkOverflow, at: now)
        case .ruleset: trigger.trigger(.drift(.rule), at: now)
        }
        return startReconcileIfDue(at: now)
    }

    mutating func announcement(from source: IPv6Address, device: String, payload: [UInt8], at now: Instant)
        -> [SideCarEffect]
    {
        guard var p = peers else { return [] }
        let step = p.announcement(from: .v6(source), device: device, payload: payload, at: now)
        peers = p
        if let rejection = step.rejection {
            record(.announcementRejected(source: source, reason: rejection))
        } else {
            record(.announcementAccepted)
        }
        if let conflict = step.conflict {
            // Once per conflict; the count stays up while it lasts.
            record(.addressConflict(conflict))
            noteConflictCount(p.registry.conflicts(at: now).count)
        }
        if step.changed { peersChanged(at: now) }
        return startReconcileIfDue(at: now)
    }

    mutating func reconciled(_ result: Result<ReconcileOutcome, any Error>, reasons: ReconcileReasons, at now: Instant)
        -> [SideCarEffect]
    {
        reconcileInFlight = false
        switch result {
        case .success(let outcome):
            backoff.succeeded()
            lastReconcile = ReconcileRecord(
                at: now,
                reasons: reasons,
                outcome: outcome.converged ? "converged" : "not-converged",
                actions: outcome.applied.count,
                error: nil
            )
            record(.reconciled(reasons: reasons, applied: outcome.applied, duration: outcome.duration))
            converged = outcome.converged
            waiting = outcome.remaining.waiting
            lastReconcileError =
                outcome.converged
                ? (outcome.plan.conflicts.isEmpty
                    ? nil : outcome.plan.conflicts.map(\.description).joined(separator: "; "))
                : "not converged: " + outcome.remaining.actions.map(PlanRenderer.line).joined(separator: "; ")
        case .failure(let error):
            converged = false
            lastReconcileError = "\(error)"
            lastReconcile = ReconcileRecord(at: now, reasons: reasons, outcome: "failed", actions: 0, error: "\(error)")
            let wait = backoff.failed(at: now)
            record(
                .reconcileFailed(
                    error: "\(error)",
                    reasons: reasons,
                    backoff: wait,
                    failures: backoff.consecutiveFailures
                )
            )
            // A partial apply converges on the next pass: retry (a full resync) once the backoff
            // ends rather than at the timer; triggers meanwhile wait for it too.
            trigger.trigger(.timer, at: now)
        }
        return startReconcileIfDue(at: now)
    }

    mutating func shutdown(at now: Instant) -> [SideCarEffect] {
        guard var s = scheduler else { return [] }
        let actions = s.shutdown(at: now)
        scheduler = s
        return announcementEffects(actions)
    }

    var currentPeers: [ApiserverPeer] { peers?.peers ?? [] }

    func desiredState() throws(HAVPNError) -> DesiredState {
        try Planner.desiredState(topology: topology, identity: identity, inputs: inputs)
    }

    // MARK: - Internals

    /// A tap changed (a server path's state, the bond's move): the apiserver's client switches wait.
    mutating func holdClientSwitches(at now: Instant) { clientPaths?.tapChanged(at: now) }

    private mutating func notePeers(at now: Instant) {
        peersSince = Dictionary(
            uniqueKeysWithValues: currentPeers.map { ($0.bondAddress, peersSince[$0.bondAddress] ?? now) }
        )
    }

    private mutating func peersChanged(at now: Instant) {
        inputs.apiserverPeers = currentPeers
        notePeers(at: now)
        record(.apiserverPeersChanged(count: inputs.apiserverPeers.count))
        trigger.trigger(.controllerInput, at: now)
    }

    private mutating func startReconcileIfDue(at now: Instant) -> [SideCarEffect] {
        guard !reconcileInFlight, backoff.allows(at: now), let run = trigger.tick(at: now) else { return [] }
        let reasons = ReconcileReasons(run.reasons)
        do {
            let desired = try desiredState()
            reconcileInFlight = true
            let tunnels = desired.links.filter { if case .ip6tnl = $0.kind { true } else { false } }.map(\.name)
            tunnelsSince = Dictionary(uniqueKeysWithValues: tunnels.map { ($0, tunnelsSince[$0] ?? now) })
            record(.reconcileStarted(tunnels: tunnels.count))
            return [.reconcile(desired, reasons: reasons)]
        } catch {
            lastReconcileError = "\(error)"
            record(.desiredStateFailed(error: "\(error)"))
            return []
        }
    }
}
