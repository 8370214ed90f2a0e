import Foundation
import HAVPNControl
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import Logging
import Prometheus
import ServiceLifecycle
import Synchronization

/// How `havpn run` was invoked.
public struct SideCarOptions: Sendable {
    public var topologyPath: String
    public var role: Role
    public var index: Int?
    public var bondAddress: String?
    public var podName: String?
    public var podIP: String?
    public var netns: String?
    public var httpAddress: String?
    public var httpPort: Int?

    public init(
        topologyPath: String, role: Role, index: Int? = nil, bondAddress: String? = nil, podName: String? = nil,
        podIP: String? = nil, netns: String? = nil, httpAddress: String? = nil, httpPort: Int? = nil
    ) {
        self.topologyPath = topologyPath
        self.role = role
        self.index = index
        self.bondAddress = bondAddress
        self.podName = podName
        self.podIP = podIP
        self.netns = netns
        self.httpAddress = httpAddress
        self.httpPort = httpPort
    }
}

/// Everything that happens to the side-car, funnelled into one ordered stream.
enum SideCarEvent: Sendable {
    case tick
    case config(ConfigSnapshot)
    case configUnreadable(String)
    case kernel(KernelEvent)
    case probeReply(IPv6Address, UInt16, at: Instant)
    case beacon([UInt8], server: Int, from: [UInt8], at: Instant)
    case datagram(ReceivedDatagram, at: Instant)
    case reconciled(Result<ReconcileOutcome, any Error>, reasons: String)
    case shutdown
}

/// Status the HTTP endpoint reads while the loop writes it.
final class SideCarStatus: Sendable {
    let readiness = Mutex(Readiness(ready: false, reasons: ["starting"]))
    let lastTick = Mutex(ContinuousClock.now)
}

/// `havpn run`: the long-running side-car.
///
/// It reconciles at start and then whenever the topology file changes, an owned kernel object
/// drifts (rtnetlink events), the resync timer fires, or a controller changes its input; runs the
/// path-controller (apiserver), the tunnel-controller (shoot), per-server path beacons (both) and
/// the announcement sender (apiserver); and serves /healthz, /readyz and /metrics.
public struct SideCar {
    let options: SideCarOptions
    let logger: Logger
    let metrics: SideCarMetrics

    public init(options: SideCarOptions, logger: Logger, metrics: SideCarMetrics = SideCarMetrics()) {
        self.options = options
        self.logger = logger
        self.metrics = metrics
    }

    /// Loads the topology and starts every service; returns when shut down (SIGTERM/SIGINT).
    public func run() async throws {
        // A file that is invalid at start is fatal: there is no last good topology to keep.
        let snapshot = try ConfigWatcher.read(options.topologyPath).get()
        let yaml = String(decoding: snapshot.content, as: UTF8.self)
        let topology = try TopologyDecoder.decode(yaml: yaml, file: options.topologyPath)
        let identity = try Identity.resolve(
            role: options.role, index: options.index, bondAddress: options.bondAddress,
            podName: options.podName, podIP: options.podIP, topology: topology)
        let podIPs = options.podIP.flatMap(IPAddress.init).map { [$0] } ?? []
        let key = try topology.announcements.keyFile.map { path throws(HAVPNError) in try readAnnouncementKey(path: path) }
        let worker = try KernelWorker(netns: options.netns)
        let observed = try await worker.observe()
        let plan = AddressPlan(topology: topology)
        let learned = ControllerInputs(
            activeShootClient: ControllerInputs.activeShootClient(in: observed, plan: plan) ?? 0,
            apiserverPeers: ControllerInputs.learnedApiserverPeers(in: observed, plan: plan))
        let status = SideCarStatus()
        let clock = ContinuousClock()
        let origin = clock.now
        let now: @Sendable () -> Instant = { Instant(nanoseconds: (clock.now - origin).nanoseconds) }
        let core = SideCarCore(
            topology: topology, identity: identity, podIPs: podIPs, key: key, learned: learned,
            logger: logger, metrics: metrics, at: now())
        logger.notice(
            "havpn side-car starting",
            metadata: ["role": "\(identity.role.rawValue)", "index": "\(identity.index)", "netns": "\(options.netns ?? "-")"])

        let (events, sink) = AsyncStream.makeStream(of: SideCarEvent.self, bufferingPolicy: .bufferingNewest(4096))
        let io = try SideCarIO(options: options, identity: identity, topology: topology, sink: sink, now: now, logger: logger)
        let loop = SideCarLoop(core: core, io: io, worker: worker, events: events, sink: sink, status: status, now: now, logger: logger)
        let health = HealthServer(
            host: options.httpAddress ?? topology.http.address, port: options.httpPort ?? topology.http.port, logger: logger,
            liveness: {
                let quiet = status.lastTick.withLock { ContinuousClock.now - $0 }
                return quiet < .seconds(10) ? Readiness(ready: true) : Readiness(ready: false, reasons: ["run loop stalled for \(quiet)"])
            },
            readiness: { status.readiness.withLock { $0 } },
            metrics: { [metrics] in metrics.registry.emitToBuffer() })
        let watcher = ConfigWatcher(
            path: options.topologyPath, pollInterval: topology.timings.configPollInterval, logger: logger,
            onChange: { sink.yield(.config($0)) }, onReadError: { sink.yield(.configUnreadable($0)) })
        var services: [any Service] = [health, watcher, loop]
        // The CONNECT proxy (ConnectProxy/): server role with a `proxy` section; its metrics join /metrics.
        if identity.role == .server, topology.proxy != nil {
            let proxyMetrics = ConnectProxyMetrics(factory: PrometheusMetricsFactory(registry: metrics.registry))
            services.append(try ConnectProxyService(topology: topology, ownAddresses: podIPs, metrics: proxyMetrics, logger: logger))
        }
        let group = ServiceGroup(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
            logger: logger)
        try await group.run()
        io.close()
        await worker.shutdown()
    }
}

/// The loop that feeds events to the core and carries out its effects.
struct SideCarLoop: Service {
    var core: SideCarCore
    let io: SideCarIO
    let worker: KernelWorker
    let events: AsyncStream<SideCarEvent>
    let sink: AsyncStream<SideCarEvent>.Continuation
    let status: SideCarStatus
    let now: @Sendable () -> Instant
    let logger: Logger

    func run() async throws {
        var core = self.core
        let sink = self.sink
        await withDiscardingTaskGroup { group in
            group.addTask {
                // Deadlines of the controllers are checked at this granularity: fine enough for
                // 100 ms probes and the 100 ms drift-repair target, coarse enough to keep an idle
                // side-car cheap. Events themselves are handled as they arrive.
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(50))
                    sink.yield(.tick)
                }
            }
            for effect in core.start(at: now()) { perform(effect, group: &group) }
            var scheduledWake: Instant?
            await withGracefulShutdownHandler {
                for await event in events {
                    let t = now()
                    var effects: [SideCarEffect]
                    switch event {
                    case .tick:
                        status.lastTick.withLock { $0 = ContinuousClock.now }
                        effects = core.tick(at: t)
                    case .config(let snapshot):
                        effects = core.configChanged(yaml: String(decoding: snapshot.content, as: UTF8.self), file: snapshot.resolvedPath, at: t)
                        io.update(topology: core.topology)
                    case .configUnreadable(let message):
                        core.configRejected(message)
                        effects = []
                    case .kernel(let e):
                        effects = core.kernelEvent(e, at: t)
                    case .probeReply(let address, let sequence, let at):
                        effects = core.probeReply(from: address, sequence: sequence, at: at)
                    case .beacon(let bytes, let server, let source, let at):
                        effects = core.beacon(bytes, server: server, from: source, at: at)
                    case .datagram(let d, let at):
                        effects = core.announcement(from: d.source, device: io.deviceName(ofInterface: d.interfaceIndex), payload: d.payload, at: at)
                    case .reconciled(let result, let reasons):
                        if case .success(let outcome) = result { io.afterReconcile(outcome) }
                        effects = core.reconciled(result, reasons: reasons, at: t)
                    case .shutdown:
                        for effect in core.shutdown(at: t) { perform(effect, group: &group) }
                        sink.finish()
                        continue
                    }
                    for effect in effects { perform(effect, group: &group) }
                    // A pending reconcile wakes the loop at its own deadline (the 20 ms coalescing
                    // window), not at the next tick: drift repair and new tunnels in ~25 ms.
                    if let due = core.reconcileDeadline, due != scheduledWake {
                        scheduledWake = due
                        let delay = due - t
                        group.addTask {
                            if delay > .zero { try? await Task.sleep(for: delay) }
                            sink.yield(.tick)
                        }
                    }
                    let readiness = core.readiness
                    status.readiness.withLock { $0 = readiness }
                    core.metrics.ready.set(to: readiness.ready ? 1 : 0)
                }
            } onGracefulShutdown: {
                sink.yield(.shutdown)
            }
            group.cancelAll()
        }
    }

    private func perform(_ effect: SideCarEffect, group: inout DiscardingTaskGroup) {
        switch effect {
        case .sendProbe(let to, let sequence):
            io.prober?.send(to: to, sequence: sequence)
        case .sendBeacon(let server, let bytes, let mac):
            io.beacon(server: server, bytes, to: mac)
        case .sendAnnouncement(let to, let payload):
            io.announce(payload, to: to)
        case .reconcile(let desired, let reasons):
            let worker = self.worker
            let sink = self.sink
            group.addTask {
                let result: Result<ReconcileOutcome, any Error>
                do { result = .success(try await worker.apply(desired)) } catch { result = .failure(error) }
                sink.yield(.reconciled(result, reasons: reasons))
            }
        }
    }
}
