import Foundation
import HAVPNControl
import HAVPNModel
import Logging
import MetricsTestKit
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

@testable import HAVPNService

/// An echo server on loopback that counts the connections it accepted. On end of input it sends
/// `trailer` and closes, so a test sees that the client's half-close reached it and that bytes sent after
/// it still come back.
final class EchoTarget: Sendable {
    static let trailer = "<eof>"
    let channel: any Channel
    private let accepted: AcceptCount

    var address: SocketAddress { channel.localAddress! }
    var port: Int { address.port! }
    var acceptedConnections: Int { accepted.value.load(ordering: .relaxed) }

    init(host: String) async throws {
        let accepted = AcceptCount()
        self.accepted = accepted
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                accepted.value.add(1, ordering: .relaxed)
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: host, port: 0).get()
    }

    deinit { channel.close(promise: nil) }

    private final class AcceptCount: Sendable {
        let value = Atomic<Int>(0)
    }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard case ChannelEvent.inputClosed = event else { return }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: EchoTarget.trailer))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}

/// A proxy service running in a task, its metrics, and the address it listens on.
final class RunningProxy: Sendable {
    let metrics = TestMetrics()
    let address: SocketAddress
    let service: ConnectProxyService
    private let task: Task<Void, any Error>

    init(topology: Topology, headTimeout: TimeAmount? = nil) async throws {
        let (bound, continuation) = AsyncStream.makeStream(of: SocketAddress.self)
        var service = try ConnectProxyService(
            topology: topology,
            metrics: ConnectProxyMetrics(factory: metrics),
            logger: Logger(label: "havpn.test") { _ in SwiftLogNoOpLogHandler() },
            onBound: { continuation.yield($0) }
        )
        if let headTimeout { service.timings.head = headTimeout }
        self.service = service
        let running = service
        task = Task { try await running.run() }
        var iterator = bound.makeAsyncIterator()
        guard let address = await iterator.next() else { throw CancellationError() }
        self.address = address
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 {
        (try? metrics.expectCounter(label, dimensions).totalValue) ?? 0
    }

    func refusals(_ reason: ConnectRefusal) -> Int64 {
        counter("havpn_proxy_refusals_total", [("reason", reason.rawValue)])
    }
}

/// One client connection to the proxy after its head was answered: the answer's status code, the bytes
/// after the answer's head, and the connection's two directions.
struct ProxyExchange {
    let status: Int
    let rest: String
    var reader: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
}

extension RunningProxy {
    /// Connects a client (through TLS with `tls`), sends `head` and runs `body` with the exchange;
    /// closes the connection afterwards.
    func exchange(
        _ head: String,
        tls: NIOSSLContext? = nil,
        _ body: (inout ProxyExchange) async throws -> Void
    ) async throws {
        let client = try await ProxyClient.connect(to: address, tls: tls)
        try await client.connection.executeThenClose { inbound, outbound in
            var reader = inbound.makeAsyncIterator()
            let (status, rest) = try await client.request(head, reader: &reader, writer: outbound)
            var exchange = ProxyExchange(status: status, rest: rest, reader: reader, writer: outbound)
            try await body(&exchange)
        }
    }
}

/// A topology whose shoot networks are loopback addresses, so tests relay on 127.0.0.x and ::1.
func proxyTopology(
    shoot: [String] = ["127.0.0.2/32", "127.0.0.3/32"],
    ipv6: Bool = false,
    configure: (inout Topology.ConnectProxy) -> Void = { _ in }
) throws -> Topology {
    var topology = Topology()
    if ipv6 { topology.ipFamilies = [.ipv4, .ipv6] }
    topology.networks.shoot.pods = shoot.map { IPNetwork($0)! }
    topology.networks.shoot.services = []
    topology.networks.seedPods = [IPNetwork("127.0.0.128/25")!]
    var proxy = Topology.ConnectProxy()
    proxy.address = "127.0.0.1"
    proxy.port = 0
    proxy.connectTimeout = .seconds(2)
    configure(&proxy)
    topology.proxy = proxy
    return topology
}

/// A client connection to the proxy, bytes in and out, with end of output (half-close) on `finish`.
struct ProxyClient {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    let connection: Connection

    static func connect(to address: SocketAddress, tls: NIOSSLContext? = nil) async throws -> ProxyClient {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: nil)
                        )
                    }
                    return try Connection(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
        return ProxyClient(connection: connection)
    }

    /// Sends `head`, returns the status code of the response and the bytes after its head (read until
    /// the head is complete).
    func request(
        _ head: String,
        reader: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
    )
        async throws -> (status: Int, rest: String)
    {
        try await writer.write(ByteBuffer(string: head))
        var received = ""
        while !received.contains("\r\n\r\n") {
            guard let chunk = try await reader.next() else { break }
            received += String(buffer: chunk)
        }
        guard let end = received.range(of: "\r\n\r\n") else { return (0, received) }
        let statusLine = received[..<end.lowerBound].split(separator: "\r\n").first ?? ""
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, String(received[end.upperBound...]))
    }
}

/// Everything left on the connection until end of input (or an error, which ends it too).
func readToEnd(_ reader: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) async -> String {
    var text = ""
    while let chunk = try? await reader.next() { text += String(buffer: chunk) }
    return text
}

/// Reads until `text` ends with `suffix` (or the connection ends).
func read(
    _ reader: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
    until suffix: String,
    after prefix: String = ""
)
    async throws -> String
{
    var text = prefix
    while !text.hasSuffix(suffix), let chunk = try await reader.next() { text += String(buffer: chunk) }
    return text
}

/// Polls `condition` until it holds or `timeout` passes (for state another thread changes).
func eventually(timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

/// A listener on 127.0.0.3 that never accepts, its accept queue filled: the kernel drops further SYNs,
/// so a connect to it neither succeeds nor fails until the listener reads (accepts one).
struct FullAcceptQueue {
    let listener: any Channel
    let port: Int
    private let fillers: [any Channel]

    init() async throws {
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 0)
            .serverChannelOption(.autoRead, value: false)
            .bind(host: "127.0.0.3", port: 0).get()
        let address = try #require(listener.localAddress)
        port = try #require(address.port)
        var fillers: [any Channel] = []
        for _ in 0..<8 {
            guard
                let filler = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.milliseconds(200)).connect(to: address).get()
            else { break }  // this one timed out: the queue is full
            fillers.append(filler)
        }
        self.fillers = fillers
    }

    func close() async {
        for filler in fillers { try? await filler.close() }
        try? await listener.close()
    }
}
