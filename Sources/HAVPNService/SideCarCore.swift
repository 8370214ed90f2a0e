import Foundation
import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import Logging

/// What the side-car must do in the world after an event.
enum SideCarEffect: Sendable, Equatable {
    case sendProbe(to: IPv6Address, sequence: UInt16)
    /// `to`: the requester's MAC for a reply (unicast), nil for a request (broadcast).
    case sendBeacon(server: Int, bytes: [UInt8], to: [UInt8]?)
    case sendAnnouncement(to: IPv6Address, payload: [UInt8])
    /// Run one reconcile pass on the kernel thread; `reconciled` reports back.
    case reconcile(DesiredState, reasons: String)
}

/// The run loop's brain, in NIO's style: events in, effects out, no I/O.
///
/// It owns the controllers (path-controller, server-path controller, tunnel registry,
/// announcement scheduler) and the reconcile trigger, turns their decisions into planner
/// inputs, and keeps the last good topology when a new file is invalid.
struct SideCarCore {
    private(set) var topology: Topology
    let identity: Identity
    let podIPs: [IPAddress]
    let key: [UInt8]?
    let logger: Logger
    let metrics: SideCarMetrics

    private(set) var inputs: ControllerInputs
    private(set) var configError: String?
    private(set) var lastReconcileError: String?
    private(set) var converged = false
    private(set) var pathController: PathController?
    private(set) var serverPaths: ServerPathController?
    private(set) var registry: TunnelRegistry?
    private var scheduler: AnnouncementScheduler?
    private var trigger = ReconcileTrigger()
    private var reconcileInFlight = false
    private var pendingReasons: [String] = []
    private var nextResync: Instant
    private var probeSentAt: [Int: [UInt16: Instant]] = [:]
    private var beaconSentAt: [Int: [UInt16: Instant]] = [:]
    private var serversSeenHealthy: Set<Int> = []
    /// When one of this pod's taps last changed (carrier lost or regained) or one of its server
    /// paths turned dead or healthy: a VPN server is going or coming back, and every bond of the
    /// fabric is failing over at its own pace.
    private var lastServerTapChange: Instant?
    /// A client switch the path-controller decided during that settling time, not applied yet.
    private var heldSwitch: Int?
    /// How long client switches wait after a tap change. A bond fails over ~0.2 s after its tap
    /// loses carrier, but the *peers'* bonds may take longer (their openvpn clients notice the
    /// server's end at their own time); during that window some shoot clients are briefly
    /// unreachable while others are not. Moving the routes then would reset every connection
    /// through the active client (its SNAT address changes) for nothing.
    static let switchHoldAfterTapChange: Duration = .seconds(3)
    private let startedAt: Instant
    /// Longer than openvpn needs to connect (connect-retry 1 5 plus TLS).
    static let startupGrace: Duration = .seconds(30)
    /// Peers whose tunnels a previous havpn process left in the kernel, kept for one lifetime
    /// so a restart of the side-car does not tear down working tunnels before announcements
    /// arrive again.
    private var bootstrapPeers: [ApiserverPeer]
    private var bootstrapUntil: Instant

    var plan: AddressPlan { AddressPlan(topology: topology) }

    /// When a coalesced reconcile is due, so the loop can wake for it rather than at its next tick.
    var reconcileDeadline: Instant? { reconcileInFlight ? nil : trigger.deadline }

    init(
        topology: Topology,
        identity: Identity,
        podIPs: [IPAddress],
        key: [UInt8]?,
        learned: ControllerInputs,
        logger: Logger,
        metrics: SideCarMetrics,
        at now: Instant
    ) {
        self.topology = topology
        self.identity = identity
        self.podIPs = podIPs
        self.key = key
        self.logger = logger
        self.metrics = metrics
        inputs = ControllerInputs(activeShootClient: learned.activeShootClient)
        startedAt = now
        bootstrapPeers = learned.apiserverPeers
        bootstrapUntil = now + topology.announcements.lifetime
        nextResync = now + topology.timings.resyncInterval
        setUpControllers(at: now)
        metrics.configValid.set(to: 1)
    }

    private mutating func setUpControllers(at now: Instant) {
        let plan = self.plan
        switch identity.role {
        case .apiserver:
            pathController = PathController(
                configuration: .init(timings: topology.timings), clientCount: topology.shootClients,
                initialActive: inputs.activeShootClient, at: now)
            if let own = plan.bondAddress(of: identity) {
                scheduler = AnnouncementScheduler(
                    configuration: .init(announcements: topology.announcements, bondAddress: own, key: key),
                    targets: (0..<topology.shootClients).map(plan.shootClientBondAddress),
                    podIPs: podIPs,
                    initialSequence: UInt64(max(0, now.nanoseconds)) &+ UInt64(Self.wallClockMilliseconds()) << 16,
                    at: now)
            }
        case .shoot:
            if registry != nil {
                bootstrapPeers = currentPeers.filter { plan.apiserverIndex(ofBondAddress: $0.bondAddress) != nil }
                bootstrapUntil = now + topology.announcements.lifetime
            }
            registry = TunnelRegistry(configuration: .init(topology: topology, key: key))
            inputs.apiserverPeers = currentPeers
        case .server:
            break
        }
        if identity.role != .server, topology.bond.mode == .activeBackup {
            if let p = inputs.preferredServer, p >= topology.servers { inputs.preferredServer = nil }
            serverPaths = ServerPathController(
                configuration: .init(timings: topology.timings), serverCount: topology.servers,
                initialActive: inputs.preferredServer ?? topology.bond.primary ?? 0, at: now)
        }
    }

    /// The announcement sequence must grow across restarts of the process, so it starts from the wall clock.
    private static func wallClockMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: - Events

    mutating func start(at now: Instant) -> [SideCarEffect] {
        trigger.trigger(.configChanged, at: now - trigger.configuration.window)
        return tick(at: now)
    }

    mutating func tick(at now: Instant) -> [SideCarEffect] {
        var effects: [SideCarEffect] = []
        if var pc = pathController {
            effects += handle(pc.tick(at: now), &pc, at: now)
            releaseHeldSwitch(&pc, at: now)
            pathController = pc
        }
        if var sp = serverPaths {
            effects += handle(sp.tick(at: now), &sp, at: now)
            serverPaths = sp
        }
        if var r = registry {
            let step = r.tick(at: now)
            registry = r
            if step.changed { peersChanged(at: now) }
            metrics.apiserverAddressConflicts.set(to: Double(r.conflicts(at: now).count))
        }
        if !bootstrapPeers.isEmpty, now >= bootstrapUntil {
            bootstrapPeers = []
            peersChanged(at: now)
        }
        if var s = scheduler {
            effects += s.tick(at: now).map(announcementEffect)
            scheduler = s
        }
        if now >= nextResync {
            nextResync = now + topology.timings.resyncInterval
            trigger.trigger(.timer, at: now)
        }
        effects += startReconcileIfDue(at: now)
        return effects
    }

    mutating func configChanged(yaml: String, file: String, at now: Instant) -> [SideCarEffect] {
        do {
            let new = try TopologyDecoder.decode(yaml: yaml, file: file)
            try Identity.validate(role: identity.role, index: identity.index, topology: new, source: "--index")
            configError = nil
            metrics.configValid.set(to: 1)
            guard new != topology else { return [] }
            metrics.configReloads.increment()
            logger.notice("topology changed", metadata: ["config.file": "\(file)"])
            let old = topology
            topology = new
            if old.shootClients != new.shootClients || old.servers != new.servers
                || old.timings != new.timings || old.announcements != new.announcements || old.transport != new.transport || old.devices != new.devices
            {
                setUpControllers(at: now)
            }
            trigger.trigger(.configChanged, at: now)
            return startReconcileIfDue(at: now)
        } catch {
            configRejected("\(error)")
            return []
        }
    }

    mutating func configRejected(_ message: String) {
        if configError != message {
            logger.error("topology file rejected; keeping the last good topology", metadata: ["error": "\(message)"])
        }
        configError = message
        metrics.configReloadFailures.increment()
        metrics.configValid.set(to: 0)
    }

    mutating func kernelEvent(_ event: KernelEvent, at now: Instant) -> [SideCarEffect] {
        switch event {
        case .link: trigger.trigger(.drift(.link), at: now)
        case .serverTap:
            lastServerTapChange = now
            trigger.trigger(.drift(.link), at: now)
        case .address: trigger.trigger(.drift(.address), at: now)
        case .ownedRoute: trigger.trigger(.drift(.route), at: now)
        case .overflow: trigger.trigger(.netlinkOverflow, at: now)
        case .ruleset: trigger.trigger(.drift(.rule), at: now)
        }
        return startReconcileIfDue(at: now)
    }

    mutating func probeReply(from address: IPv6Address, sequence: UInt16, at now: Instant) -> [SideCarEffect] {
        guard var pc = pathController, let client = plan.shootClientIndex(ofBondAddress: address),
            let sent = probeSentAt[client]?.removeValue(forKey: sequence)
        else { return [] }
        let effects = handle(pc.probeReply(client: client, sequence: sequence, rtt: now - sent, at: now), &pc, at: now)
        pathController = pc
        metrics.probe(client: client, rtt: now - sent, lossRatio: pc.statistics(of: client)?.lossRatio ?? 0)
        return effects
    }

    /// A beacon frame heard on tap `server`, from the Ethernet address `source`.
    mutating func beacon(_ bytes: [UInt8], server: Int, from source: [UInt8]? = nil, at now: Instant) -> [SideCarEffect] {
        guard let beacon = PathBeacon(bytes: bytes), beacon.server == server else { return [] }
        switch beacon.kind {
        case .request:
            guard PathBeacon.answers(identity.role, requestFrom: beacon.role) else { return [] }
            // Unicast back to the requester: the openvpn server then forwards the reply to one
            // client instead of flooding it to all of them.
            return [.sendBeacon(server: server, bytes: beacon.reply(role: identity.role, index: identity.index).bytes, to: source)]
        case .reply:
            guard let r = beacon.requester, r.role == identity.role, r.index == identity.index,
                var sp = serverPaths, let sent = beaconSentAt[server]?.removeValue(forKey: beacon.sequence)
            else { return [] }
            let effects = handle(sp.probeReply(server: server, sequence: beacon.sequence, rtt: now - sent, at: now), &sp, at: now)
            serverPaths = sp
            return effects
        }
    }

    mutating func announcement(from source: IPv6Address, device: String, payload: [UInt8], at now: Instant) -> [SideCarEffect] {
        guard var r = registry else { return [] }
        let step = r.announcement(from: .v6(source), device: device, payload: payload, at: now)
        registry = r
        if let rejection = step.rejection {
            metrics.announcementRejected(rejection.rawValue)
            logger.debug("announcement ignored", metadata: ["announcement.source": "\(source)", "announcement.reason": "\(rejection.rawValue)"])
        } else {
            metrics.announcementsReceived.increment()
        }
        if let conflict = step.conflict {
            // Once per conflict; the gauge stays up while it lasts.
            logger.warning(
                "two kube-apiserver pods announce one bond address; give them distinct --index or --bond-address",
                metadata: ["announcement.conflict": "\(conflict)"])
            metrics.apiserverAddressConflicts.set(to: Double(r.conflicts(at: now).count))
        }
        if step.changed { peersChanged(at: now) }
        return startReconcileIfDue(at: now)
    }

    mutating func reconciled(_ result: Result<ReconcileOutcome, any Error>, reasons: String, at now: Instant) -> [SideCarEffect] {
        reconcileInFlight = false
        metrics.reconciles.increment()
        switch result {
        case .success(let outcome):
            metrics.reconcileDuration.record(outcome.duration)
            metrics.actions(outcome.applied)
            if !outcome.applied.isEmpty && reasons.contains("drift") { metrics.driftRepairs.increment() }
            converged = outcome.converged
            lastReconcileError = outcome.converged
                ? (outcome.plan.conflicts.isEmpty ? nil : outcome.plan.conflicts.map(\.description).joined(separator: "; "))
                : "not converged: " + outcome.remaining.actions.map(PlanRenderer.line).joined(separator: "; ")
            if !outcome.applied.isEmpty {
                logger.info(
                    "reconciled",
                    metadata: [
                        "reconcile.reasons": "\(reasons)", "reconcile.actions": "\(outcome.applied.count)",
                        "reconcile.duration": "\(outcome.duration)",
                        "reconcile.changes": "\(outcome.applied.map(PlanRenderer.line).joined(separator: "; "))",
                    ])
            }
        case .failure(let error):
            metrics.reconcileErrors.increment()
            converged = false
            lastReconcileError = "\(error)"
            logger.error("reconcile failed; retrying", metadata: ["error": "\(error)", "reconcile.reasons": "\(reasons)"])
            // A partial apply converges on the next pass; retry soon rather than at the timer.
            nextResync = min(nextResync, now + .milliseconds(500))
        }
        return startReconcileIfDue(at: now)
    }

    mutating func shutdown(at now: Instant) -> [SideCarEffect] {
        guard var s = scheduler else { return [] }
        let effects = s.shutdown(at: now).map(announcementEffect)
        scheduler = s
        return effects
    }

    // MARK: - State for probes and metrics

    var readiness: Readiness {
        var reasons: [String] = []
        if let configError { reasons.append("topology file invalid, running the last good one: \(configError)") }
        if let lastReconcileError { reasons.append("kernel not in the declared state: \(lastReconcileError)") }
        if !converged && lastReconcileError == nil { reasons.append("first reconcile pending") }
        switch identity.role {
        case .apiserver:
            if let pc = pathController, pc.active == nil || !(0..<topology.shootClients).contains(where: { pc.health(of: $0).isHealthy }) {
                reasons.append("no healthy shoot client")
            }
        case .shoot:
            if currentPeers.isEmpty && topology.apiservers.isEmpty { reasons.append("no apiserver known yet") }
        case .server:
            break
        }
        return Readiness(ready: reasons.isEmpty, reasons: reasons)
    }

    var currentPeers: [ApiserverPeer] {
        var byAddress: [IPv6Address: ApiserverPeer] = [:]
        for p in bootstrapPeers { byAddress[p.bondAddress] = p }
        for p in registry?.peers ?? [] { byAddress[p.bondAddress] = ApiserverPeer(bondAddress: p.bondAddress, podIPs: p.podIPs) }
        return byAddress.values.sorted()
    }

    func desiredState() throws(HAVPNError) -> DesiredState {
        try Planner.desiredState(topology: topology, identity: identity, inputs: inputs)
    }

    // MARK: - Internals

    /// After the hold: if the routed client answers again it was only the fabric settling, so the
    /// controller is put back on it; otherwise the held switch happens now.
    private mutating func releaseHeldSwitch(_ pc: inout PathController, at now: Instant) {
        guard let target = heldSwitch, let changed = lastServerTapChange, now - changed >= Self.switchHoldAfterTapChange
        else { return }
        heldSwitch = nil
        let routed = inputs.activeShootClient
        if pc.health(of: routed) != .dead || pc.answeredLastProbe(routed) {
            logger.info("shoot client recovered during the hold; no switch", metadata: ["path.client": "\(routed)"])
            pc = PathController(configuration: pc.configuration, clientCount: topology.shootClients, initialActive: routed, at: now)
            return
        }
        guard pc.active == target, target != routed else { return }
        logger.notice("switching active shoot client", metadata: ["path.from": "\(routed)", "path.to": "\(target)"])
        metrics.pathSwitches.increment()
        metrics.activeShootClient.set(to: Double(target))
        inputs.activeShootClient = target
        trigger.trigger(.controllerInput, at: now)
    }

    static func describe(_ reason: ReconcileTrigger.Reason) -> String {
        switch reason {
        case .configChanged: "configChanged"
        case .drift(let kind): "drift:\(kind.rawValue)"
        case .timer: "timer"
        case .controllerInput: "controllerInput"
        case .netlinkOverflow: "netlinkOverflow"
        }
    }

    private mutating func peersChanged(at now: Instant) {
        inputs.apiserverPeers = currentPeers
        metrics.knownApiservers.set(to: Double(inputs.apiserverPeers.count))
        trigger.trigger(.controllerInput, at: now)
    }

    private mutating func startReconcileIfDue(at now: Instant) -> [SideCarEffect] {
        guard !reconcileInFlight, let run = trigger.tick(at: now) else { return [] }
        let reasons = run.reasons.map(Self.describe).sorted().joined(separator: ",")
        do {
            let desired = try desiredState()
            reconcileInFlight = true
            metrics.tunnels.set(to: Double(desired.links.filter { if case .ip6tnl = $0.kind { true } else { false } }.count))
            return [.reconcile(desired, reasons: reasons)]
        } catch {
            lastReconcileError = "\(error)"
            logger.error("cannot compute the desired state", metadata: ["error": "\(error)"])
            return []
        }
    }

    private mutating func handle(_ actions: [PathController.Action], _ pc: inout PathController, at now: Instant) -> [SideCarEffect] {
        var effects: [SideCarEffect] = []
        for action in actions {
            switch action {
            case .sendProbe(let client, let sequence):
                pc.probeSent(client: client, sequence: sequence, at: now)
                probeSentAt[client, default: [:]][sequence] = now
                if probeSentAt[client]!.count > 64 { probeSentAt[client] = probeSentAt[client]!.filter { now - $0.value < .seconds(5) } }
                effects.append(.sendProbe(to: plan.shootClientBondAddress(client), sequence: sequence))
            case .switchActive(let from, let to):
                if let changed = lastServerTapChange, now - changed < Self.switchHoldAfterTapChange, from != nil {
                    if heldSwitch == nil {
                        logger.info("holding a shoot client switch while bonds fail over", metadata: ["path.from": "\(from.map(String.init) ?? "none")", "path.to": "\(to)"])
                    }
                    heldSwitch = to
                    continue
                }
                heldSwitch = nil
                logger.notice("switching active shoot client", metadata: ["path.from": "\(from.map(String.init) ?? "none")", "path.to": "\(to)"])
                if from != nil { metrics.pathSwitches.increment() }
                metrics.activeShootClient.set(to: Double(to))
                inputs.activeShootClient = to
                trigger.trigger(.controllerInput, at: now)
            case .healthChanged(let client, let health):
                logger.info("shoot client health changed", metadata: ["path.client": "\(client)", "path.health": "\(health.rawValue)"])
                metrics.clientHealthy(client, health.isHealthy)
            case .readinessChanged(let r):
                logger.notice("path readiness changed", metadata: ["path.readiness": "\(r)"])
            }
        }
        return effects
    }

    /// Moves the bond to the server path the controller chose, once that is allowed: only a path
    /// that carried beacons and then stopped is a partition. At start every path looks dead until
    /// openvpn connects, and moving to whichever server connects first would split the pods across
    /// servers (a tap without carrier is already left by the bond itself). After `startupGrace` a
    /// never-healthy path is left too, so a side-car restarted during a partition still moves.
    private mutating func followServerPath(_ sp: inout ServerPathController, at now: Instant) {
        guard let chosen = sp.active else { return }
        let current = inputs.preferredServer ?? topology.bond.primary ?? 0
        guard chosen != current else { return }
        guard serversSeenHealthy.contains(current) || now - startedAt >= Self.startupGrace else {
            // A choice made while the current path had not answered yet is start-up noise:
            // put the controller back on the current path rather than act on it later.
            sp = ServerPathController(
                configuration: sp.configuration, serverCount: topology.servers, initialActive: current, at: now)
            return
        }
        logger.notice("moving bond to VPN server path", metadata: ["path.from": "\(current)", "path.to": "\(chosen)"])
        metrics.serverPathSwitches.increment()
        metrics.preferredServer.set(to: Double(chosen))
        inputs.preferredServer = chosen
        lastServerTapChange = now  // our own move starts a failover (or failback) too
        trigger.trigger(.controllerInput, at: now)
    }

    private mutating func handle(_ actions: [ServerPathController.Action], _ sp: inout ServerPathController, at now: Instant) -> [SideCarEffect] {
        defer { followServerPath(&sp, at: now) }
        var effects: [SideCarEffect] = []
        for action in actions {
            switch action {
            case .sendProbe(let server, let sequence):
                sp.probeSent(server: server, sequence: sequence, at: now)
                beaconSentAt[server, default: [:]][sequence] = now
                if beaconSentAt[server]!.count > 64 { beaconSentAt[server] = beaconSentAt[server]!.filter { now - $0.value < .seconds(5) } }
                let beacon = PathBeacon(kind: .request, role: identity.role, index: identity.index, server: server, sequence: sequence)
                effects.append(.sendBeacon(server: server, bytes: beacon.bytes, to: nil))
            case .setBondActive:
                break  // followServerPath applies the controller's choice, when allowed
            case .healthChanged(let server, let health):
                if health.isHealthy { serversSeenHealthy.insert(server) }
                // A server path changing state is the silent variant of a tap change (a partition
                // keeps carrier up): bonds everywhere are about to move, so hold client switches.
                lastServerTapChange = now
                logger.info("VPN server path health changed", metadata: ["path.server": "\(server)", "path.health": "\(health.rawValue)"])
                metrics.serverPathHealthy(server, health.isHealthy)
            case .readinessChanged:
                break
            }
        }
        return effects
    }

    private func announcementEffect(_ action: AnnouncementScheduler.Action) -> SideCarEffect {
        switch action {
        case .send(let to, let payload):
            metrics.announcementsSent.increment()
            return .sendAnnouncement(to: to, payload: payload)
        }
    }
}
