import Glibc
import HAVPNControl
import HAVPNModel
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The HTTP CONNECT proxy that replaces vpn2's envoy side-car in the server pod (`havpn run --role
/// server` with a `proxy` section): kube-apiserver's egress selector sends `CONNECT <shoot IP>:<port>`,
/// the proxy judges it with ``ConnectPolicy``, dials the target within `connectTimeout`, answers `200`,
/// and relays bytes both ways (backpressure, half-close, idle timeout) until either side closes.
///
/// Without `proxy.tls`, ``SpliceProxy`` serves: one epoll thread of its own, bytes relayed in the kernel
/// with splice(2). With TLS the bytes must pass through user space anyway, and NIO serves: handlers, not
/// async sequences, carry them, a tunnel being two channels on one event loop glued together
/// (``TunnelGlue``), so relaying costs no task hop per buffer.
public struct ConnectProxyService: Service {
    let settings: Topology.ConnectProxy
    let policy: ConnectPolicy
    let tls: NIOSSLContext?
    /// Connect and idle timeouts from the topology; head and linger fixed (tests shorten them).
    var timings: ConnectProxyTimings
    let metrics: ConnectProxyMetrics
    let logger: Logger
    let group: any EventLoopGroup
    /// Receives the bound address (port 0 in tests).
    let onBound: (@Sendable (SocketAddress) -> Void)?
    let connections: ProxyConnections
    /// Set by ``run()`` when it serves without TLS.
    private let spliced = SpliceHandle()

    /// Reads the TLS files at once, so a missing certificate stops `havpn run` at start with one line.
    /// `ownAddresses` (the pod IP) are never a target.
    public init(
        topology: Topology,
        ownAddresses: [IPAddress] = [],
        metrics: ConnectProxyMetrics = ConnectProxyMetrics(),
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onBound: (@Sendable (SocketAddress) -> Void)? = nil
    ) throws(HAVPNError) {
        guard let settings = topology.proxy else {
            throw HAVPNError(.usage, "the topology has no proxy section", keyPath: "proxy")
        }
        self.settings = settings
        policy = ConnectPolicy(topology: topology, ownAddresses: ownAddresses)
        tls = try settings.tls.map { tls throws(HAVPNError) in try ConnectProxyTLS.makeContext(tls) }
        timings = ConnectProxyTimings(
            connect: .nanoseconds(settings.connectTimeout.nanoseconds),
            idle: .nanoseconds(settings.idleTimeout.nanoseconds)
        )
        self.metrics = metrics
        self.logger = logger
        self.group = group
        self.onBound = onBound
        connections = ProxyConnections(maxTunnels: settings.maxTunnels, metrics: metrics)
    }

    public func run() async throws {
        guard tls != nil else { return try await runSpliced() }
        let server = try await bind()
        if let address = server.localAddress { onBound?(address) }
        logger.info(
            "CONNECT proxy listening",
            metadata: [
                "proxy.address": "\(settings.address):\(server.localAddress?.port ?? settings.port)",
                "proxy.tls": "\(tls != nil)", "proxy.maxTunnels": "\(settings.maxTunnels)",
            ]
        )
        let connections = self.connections
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await server.closeFuture.get()
            } onCancel: {
                server.close(promise: nil)
            }
        } onGracefulShutdown: {
            server.close(promise: nil)
        }
        connections.closeAll()
    }

    /// Without TLS the bytes need no user-space processing: ``SpliceProxy`` relays them in the kernel.
    private func runSpliced() async throws {
        let proxy = try SpliceProxy(
            host: settings.address,
            port: settings.port,
            settings: SpliceSettings(
                policy: policy,
                timings: timings,
                connections: connections,
                metrics: metrics,
                logger: logger
            )
        )
        spliced.set(proxy)
        onBound?(proxy.address)
        logger.info(
            "CONNECT proxy listening",
            metadata: [
                "proxy.address": "\(settings.address):\(proxy.address.port ?? settings.port)",
                "proxy.tls": "false", "proxy.maxTunnels": "\(settings.maxTunnels)", "proxy.relay": "splice",
            ]
        )
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await proxy.run()
            } onCancel: {
                proxy.stop()
            }
        } onGracefulShutdown: {
            proxy.stop()
        }
    }

    private func bind() async throws(HAVPNError) -> any Channel {
        let (policy, tls, timings, connections, metrics, logger) = (
            self.policy, self.tls, self.timings, self.connections, self.metrics, self.logger
        )
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.recvAllocator)
            .childChannelOption(.writeBufferWaterMark, value: Self.writeBufferWaterMark)
            .childChannelInitializer { channel in
                guard connections.register(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectHeadHandler(
                            policy: policy,
                            timings: timings,
                            connections: connections,
                            metrics: metrics,
                            logger: logger
                        )
                    )
                }
            }
        do {
            return try await bootstrap.bind(host: settings.address, port: settings.port).get()
        } catch let error as IOError {
            throw HAVPNError(
                .io,
                "cannot listen for the CONNECT proxy",
                keyPath: "proxy",
                object: "\(settings.address):\(settings.port)",
                errno: error.errnoCode,
                errnoText: String(cString: strerror(error.errnoCode))
            )
        } catch {
            throw HAVPNError(
                .io,
                "cannot listen for the CONNECT proxy: \(error)",
                keyPath: "proxy",
                object: "\(settings.address):\(settings.port)"
            )
        }
    }

    /// Reads grow up to 256 KiB on a busy tunnel (NIO's default stops at 64 KiB): a quarter of the
    /// syscalls and wake-ups per byte relayed; an idle tunnel's buffer stays small (adaptive).
    static let recvAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
    /// Up to 512 KiB queued towards a slow side before reads on the other side pause (NIO's default
    /// pauses at 64 KiB, which stalls a fast stream on every scheduling hiccup of the reader).
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 128 * 1024, high: 512 * 1024)

    /// Runs only this service until SIGTERM or SIGINT (`havpn proxy`).
    public func runUntilSignalled() async throws {
        let group = ServiceGroup(
            services: [self],
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        )
        try await group.run()
    }

    /// Tunnels relaying now (for tests and the benchmark).
    public var openTunnels: Int { connections.openTunnels }

    /// The running splice relay (plain proxy), for tests.
    var splice: SpliceProxy? { spliced.current }
}
