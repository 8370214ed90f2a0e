import HAVPNControl
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The side-car's endpoints: /healthz (process alive and its loop turning), /readyz, /metrics
/// (Prometheus text format), /status (``StatusDocument`` as JSON, for `havpn status`). A plain
/// NIOHTTP1 server: four GETs do not need a framework.
public struct HealthServer: Service {
    public var host: String
    public var port: Int
    let liveness: @Sendable () -> Readiness
    let readiness: @Sendable () -> Readiness
    let metrics: @Sendable () -> [UInt8]
    /// The /status JSON; nil (404) until the loop has turned once, or when none is served.
    let status: (@Sendable () -> [UInt8]?)?
    let logger: Logger
    /// Receives the bound port (useful with port 0 in tests).
    let onBound: (@Sendable (Int) -> Void)?

    public init(
        host: String,
        port: Int,
        logger: Logger,
        liveness: @escaping @Sendable () -> Readiness,
        readiness: @escaping @Sendable () -> Readiness,
        status: (@Sendable () -> [UInt8]?)? = nil,
        metrics: @escaping @Sendable () -> [UInt8],
        onBound: (@Sendable (Int) -> Void)? = nil
    ) {
        self.status = status
        self.host = host
        self.port = port
        self.logger = logger
        self.liveness = liveness
        self.readiness = readiness
        self.metrics = metrics
        self.onBound = onBound
    }

    public func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        if let bound = server.channel.localAddress?.port { onBound?(bound) }
        logger.info(
            "http endpoint listening",
            metadata: ["http.address": "\(host):\(server.channel.localAddress?.port ?? port)"]
        )
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>)
        async
    {
        do {
            let channel = connection.channel
            try await connection.executeThenClose { inbound, _ in
                var path = ""
                var keepAlive = false
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        path = String(head.uri.split(separator: "?").first ?? "")
                        keepAlive = head.isKeepAlive
                    case .body:
                        break
                    case .end:
                        let (status, contentType, body) = respond(to: path)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: contentType)
                        headers.add(name: "Content-Length", value: "\(body.count)")
                        if !keepAlive { headers.add(name: "Connection", value: "close") }
                        // Straight to the channel, awaiting the flush of the last part: the async
                        // writer only queues, and closing right after could drop what it queued
                        // (a truncated answer to a kubelet probe).
                        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
                        channel.write(HTTPServerResponsePart.head(head), promise: nil)
                        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
                        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("http connection ended", metadata: ["error": "\(error)"])
        }
    }

    func respond(to path: String) -> (HTTPResponseStatus, String, [UInt8]) {
        switch path {
        case "/healthz", "/readyz":
            let state = path == "/healthz" ? liveness() : readiness()
            let text = state.ready ? "ok\n" : "not ready: " + state.reasons.joined(separator: "; ") + "\n"
            return (state.ready ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", Array(text.utf8))
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics())
        case "/status":
            guard let document = status?() else {
                return (.notFound, "text/plain; charset=utf-8", Array("no status yet\n".utf8))
            }
            return (.ok, "application/json", document)
        default:
            return (.notFound, "text/plain; charset=utf-8", Array("not found\n".utf8))
        }
    }
}
