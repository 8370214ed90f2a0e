import FoundationEssentials
import Glibc
import HAVPNControl
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile
import Logging
import ServiceLifecycle
import Synchronization

/// How `havpn run` was invoked.
public struct SideCarOptions: Sendable {
    public var topologyPath: String
    public var role: Role
    public var index: Int?
    public var bondAddress: String?
    public var podName: String?
    /// The pod's IPs (primary first; comma-separated lists allowed): announced, never proxy targets.
    public var podIPs: [String]
    public var netns: String?
    public var httpAddress: String?
    public var httpPort: Int?
    /// Overrides the topology's `filter.backend` (CLI `--firewall-backend`).
    public var firewallBackend: FirewallBackend? = nil
    /// The binary's release and git commit, exported as `havpn_build_info`.
    public var version = "unknown"
    public var commit = "unknown"

    public init(
        topologyPath: String,
        role: Role,
        index: Int? = nil,
        bondAddress: String? = nil,
        podName: String? = nil,
        podIPs: [String] = [],
        netns: String? = nil,
        httpAddress: String? = nil,
        httpPort: Int? = nil
    ) {
        self.topologyPath = topologyPath
        self.role = role
        self.index = index
        self.bondAddress = bondAddress
        self.podName = podName
        self.podIPs = podIPs
        self.netns = netns
        self.httpAddress = httpAddress
        self.httpPort = httpPort
    }
}

/// Status the HTTP endpoint reads while the loop writes it.
final class SideCarStatus: Sendable {
    let readiness = Mutex(Readiness(ready: false, reasons: ["starting"]))
    let lastTick = Mutex(ContinuousClock.now)
    /// `/status`, as of the loop's last turn.
    let document = Mutex<StatusDocument?>(nil)
    /// The binary's version, shown on `/status`.
    let version: String

    init(version: String = "unknown") { self.version = version }
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
    /// The Prometheus text served on /metrics.
    let exposition: @Sendable () -> [UInt8]

    /// - Parameters:
    ///   - metrics: records through swift-metrics (by default into the bootstrapped `MetricsSystem`,
    ///     with the series of `options.role`);
    ///   - exposition: what /metrics serves, e.g. the registry of the ``PrometheusBackend`` bootstrapped;
    ///     the process metrics (``ProcessMetrics``) are appended to it at every scrape.
    public init(
        options: SideCarOptions,
        logger: Logger,
        metrics: SideCarMetrics? = nil,
        exposition: @escaping @Sendable () -> [UInt8]
    ) {
        self.options = options
        self.logger = logger
        self.metrics = metrics ?? SideCarMetrics(role: options.role)
        self.exposition = exposition
    }

    /// Loads the topology and starts every service; returns when shut down (SIGTERM/SIGINT).
    public func run() async throws {
        // A file that is invalid at start is fatal: there is no last good topology to keep.
        let snapshot = try ConfigWatcher.read(options.topologyPath).get()
        let topology = try TopologyDecoder.decode(yaml: snapshot.content, file: options.topologyPath)
        let podIPs = try Identity.podIPs(options.podIPs)
        let identity = try Identity.resolve(
            role: options.role,
            index: options.index,
            bondAddress: options.bondAddress,
            podName: options.podName,
            podIP: podIPs.first?.description,
            topology: topology
        )
        let key = try topology.announcements.keyFile.map { path throws(HAVPNError) in
            try readAnnouncementKey(path: path)
        }
        let worker = try KernelWorker(
            netns: options.netns,
            firewallBackend: options.firewallBackend ?? topology.filter.backend
        )
        let observed = try await worker.observe()
        let plan = AddressPlan(topology: topology)
        let learned = ControllerInputs(
            activeShootClient: ControllerInputs.activeShootClient(in: observed, plan: plan) ?? 0,
            apiserverPeers: ControllerInputs.learnedApiserverPeers(in: observed, plan: plan)
        )
        metrics.buildInfo(version: options.version, commit: options.commit)
        let exposition = self.exposition
        let status = SideCarStatus(version: "\(options.version) (commit \(options.commit))")
        let clock = ContinuousClock()
        let origin = clock.now
        let now: @Sendable () -> Instant = { Instant(nanoseconds: (clock.now - origin).nanoseconds) }
        let core = SideCarCore(
            topology: topology,
            identity: identity,
            podIPs: podIPs,
            key: key,
            learned: learned,
            wallClockMilliseconds: Int64(Date().timeIntervalSince1970 * 1000),
            at: now()
        )
        logger.notice(
            "havpn side-car starting",
            metadata: [
                "role": "\(identity.role.rawValue)", "index": .stringConvertible(identity.index),
                "netns": "\(options.netns ?? "-")",
            ]
        )

        let inbox = SideCarInbox()
        let io = try await worker.onKernelThread { [options, logger] in
            try SideCarIO(
                options: options,
                identity: identity,
                topology: topology,
                inbox: inbox,
                worker: worker,
                now: now,
                logger: logger
            )
        }
        let loop = SideCarLoop(
            core: core,
            io: io,
            worker: worker,
            inbox: inbox,
            status: status,
            observer: SideCarObserver(logger: logger, metrics: metrics),
            now: now,
            logger: logger
        )
        let health = HealthServer(
            host: options.httpAddress ?? topology.http.address,
            port: options.httpPort ?? topology.http.port,
            logger: logger,
            liveness: {
                let quiet = status.lastTick.withLock { ContinuousClock.now - $0 }
                return quiet < .seconds(10)
                    ? Readiness(ready: true) : Readiness(ready: false, reasons: ["run loop stalled for \(quiet)"])
            },
            readiness: { status.readiness.withLock { $0 } },
            status: { status.document.withLock { $0 }?.json() },
            metrics: { exposition() + ProcessMetrics.sample().prometheusText.utf8 }
        )
        let watcher = ConfigWatcher(
            path: options.topologyPath,
            pollInterval: topology.timings.configPollInterval,
            logger: logger,
            onChange: { inbox.post(.snapshot($0)) },
            onReadError: { inbox.post(.unreadable($0)) }
        )
        var services: [any Service] = [health, watcher, loop]
        // The CONNECT proxy (ConnectProxy/): server role with a `proxy` section; its metrics join /metrics.
        if identity.role == .server, topology.proxy != nil {
            // Single mode maps the proxy's IPv4 connections by its socket group (vpn2's envoy group): in
            // another group they leave unmapped, to real shoot addresses the shoot side never routes back.
            if topology.mode == .single, topology.netmap.isActive, getegid() != gid_t(Netmap.proxyGroup) {
                logger.warning(
                    "proxy runs with group \(getegid()), not \(Netmap.proxyGroup): its IPv4 connections are not NETMAPped (run havpn with runAsGroup \(Netmap.proxyGroup))"
                )
            }
            let proxyMetrics = ConnectProxyMetrics(factory: metrics.factory)
            services.append(
                try ConnectProxyService(topology: topology, ownAddresses: podIPs, metrics: proxyMetrics, logger: logger)
            )
        }
        let group = ServiceGroup(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        try await group.run()
        io.close()
        await worker.shutdown()
    }
}
