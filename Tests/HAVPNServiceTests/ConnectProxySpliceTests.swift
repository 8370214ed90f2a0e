import Foundation
import HAVPNControl
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import HAVPNService

/// The plain proxy's kernel-space relay (``SpliceProxy``): that bytes take it, that bytes read with the
/// head go first, half-close from the target's side, and that every descriptor is given back.
@Suite(.timeLimit(.minutes(1)))
struct ConnectProxySpliceTests {
    @Test func plainTunnelBytesTravelThroughSplice() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        let splice = try #require(proxy.service.splice, "a plain proxy runs the splice relay")
        let payload = String(repeating: "splice!!", count: 128 * 1024)  // 1 MiB
        try await proxy.exchange("CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 200)
            try await exchange.writer.write(ByteBuffer(string: payload))
            var echoed = exchange.rest
            while echoed.utf8.count < payload.utf8.count, let chunk = try await exchange.reader.next() {
                echoed += String(buffer: chunk)
            }
            #expect(echoed.utf8.count == payload.utf8.count)
            #expect(echoed == payload, "the echo differs from what was sent")
        }
        // To the target and back: every byte crossed a pipe twice.
        #expect(splice.splicedBytes.load(ordering: .relaxed) >= 2 * payload.utf8.count)
        await proxy.stop()
    }

    /// Head, first tunnel bytes and end of output in one go, before the proxy answered: the bytes read
    /// with the head reach the target before anything the client sends later, and so does the half-close.
    @Test func pipelinedBytesAndAnEarlyHalfCloseReachTheTarget() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        let client = try await ProxyClient.connect(to: proxy.address)
        let received = try await client.connection.executeThenClose { inbound, outbound in
            var reader = inbound.makeAsyncIterator()
            try await outbound.write(ByteBuffer(string: "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\npipelined|"))
            outbound.finish()
            return await readToEnd(&reader)
        }
        #expect(received == "HTTP/1.1 200 Connection established\r\n\r\npipelined|" + EchoTarget.trailer)
        #expect(proxy.counter("havpn_proxy_bytes_total", [("direction", "to_target")]) == "pipelined|".utf8.count)
        await proxy.stop()
    }

    /// The target ends its output first: the client reads to end of stream and can still send, and the
    /// target receives it (the tunnel stays half open).
    @Test func relaysTheTargetsHalfCloseWhileTheClientStillSends() async throws {
        let target = try await HalfClosingTarget()
        let proxy = try await RunningProxy(topology: proxyTopology())
        try await proxy.exchange("CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 200)
            #expect(exchange.rest + (await readToEnd(&exchange.reader)) == "hello")
            try await exchange.writer.write(ByteBuffer(string: "still here"))
            exchange.writer.finish()
            #expect(await eventually { target.received == "still here" })
        }
        #expect(await eventually { proxy.service.openTunnels == 0 })
        await proxy.stop()
    }

    /// A target whose handshake does not complete within connect(2) (its accept queue is full, so the
    /// SYN is dropped until the queue has room and the SYN is sent again): the proxy learns the outcome
    /// from epoll and answers 200 then. A loopback target otherwise completes within the call.
    @Test func relaysOnceAHandshakeCompletesLater() async throws {
        let blackhole = try await FullAcceptQueue()
        let port = blackhole.port
        let proxy = try await RunningProxy(topology: proxyTopology { $0.connectTimeout = .seconds(10) })
        let client = try await ProxyClient.connect(to: proxy.address)
        let answer = try await client.connection.executeThenClose { inbound, outbound in
            var reader = inbound.makeAsyncIterator()
            try await outbound.write(ByteBuffer(string: "CONNECT 127.0.0.3:\(port) HTTP/1.1\r\n\r\n"))
            // The proxy's SYN is out and unanswered; an accept makes room for its retransmission.
            #expect(await eventually { synSent(toPort: port) }, "\(debugTable(port))")
            blackhole.listener.read()
            return try await read(&reader, until: "\r\n\r\n")
        }
        #expect(answer == "HTTP/1.1 200 Connection established\r\n\r\n")
        #expect(proxy.counter("havpn_proxy_tunnels_total") == 1)
        await blackhole.close()
        await proxy.stop()
    }

    /// 50 tunnels at once hold six descriptors each (two sockets, two pipes); once the clients close,
    /// none is left: in the relay's count (kept at every open and close) and, for sockets still half
    /// open, in the kernel's table (a socket closed both ways leaves the table even while its descriptor
    /// leaks, so the count is the check that catches that).
    @Test func releasesEveryDescriptorWhenTunnelsClose() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        let splice = try #require(proxy.service.splice)
        let head = "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n"
        var clients: [ProxyClient] = []
        for _ in 0..<50 { clients.append(try await ProxyClient.connect(to: proxy.address)) }
        try await withThrowingTaskGroup { group in
            for client in clients {
                group.addTask {
                    try await client.connection.executeThenClose { inbound, outbound in
                        var reader = inbound.makeAsyncIterator()
                        let answer = try await client.request(head, reader: &reader, writer: outbound)
                        #expect(answer.status == 200)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await eventually { splice.descriptors.load(ordering: .relaxed) == 0 })
        #expect(await eventually { proxy.service.connections.openConnections == 0 })
        #expect(proxy.service.openTunnels == 0)
        let proxyPort = try #require(proxy.address.port)
        #expect(await eventually { openSockets(localPort: proxyPort, remotePort: target.port).isEmpty })
        await proxy.stop()
    }

    /// Stopping the service closes open tunnels: the client sees end of stream, nothing stays open.
    @Test func shutdownClosesOpenTunnels() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        let splice = try #require(proxy.service.splice)
        try await proxy.exchange("CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 200)
            #expect(splice.descriptors.load(ordering: .relaxed) == 6)
            await proxy.stop()
            #expect(await readToEnd(&exchange.reader) == "")
        }
        #expect(splice.descriptors.load(ordering: .relaxed) == 0)
        #expect(proxy.service.openTunnels == 0)
    }
}

/// Sockets in this network namespace still held by a descriptor (inode not 0) that listen on nothing
/// and have `localPort` as their local port (the proxy's accepted side) or `remotePort` as their
/// remote one (the proxy's dialled side), from /proc/net/tcp.
func openSockets(localPort: Int, remotePort: Int) -> [String] {
    let table = tcpTable()
    return table.split(separator: "\n").dropFirst().map(String.init).filter { line in
        let fields = line.split(separator: " ")
        guard fields.count > 9, fields[3] != "0A", fields[9] != "0" else { return false }
        func port(_ field: Substring) -> Int { Int(field.split(separator: ":").last ?? "", radix: 16) ?? -1 }
        return port(fields[1]) == localPort || port(fields[2]) == remotePort
    }
}

/// /proc/net/tcp, read to its end (its size says 0, so a read by size would stop after a page).
func tcpTable() -> String {
    let file = FileHandle(forReadingAtPath: "/proc/net/tcp")
    defer { try? file?.close() }
    return String(decoding: (try? file?.readToEnd()) ?? Data(), as: UTF8.self)
}

/// Whether a socket of this network namespace is connecting (SYN_SENT) to `port` (/proc/net/tcp).
func synSent(toPort port: Int) -> Bool {
    let table = tcpTable()
    return table.split(separator: "\n").dropFirst().contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 3 && fields[3] == "02"
            && Int(fields[2].split(separator: ":").last ?? "", radix: 16) == port
    }
}

/// A target that greets with `hello`, shuts its output at once, and keeps what it receives.
final class HalfClosingTarget: Sendable {
    let channel: any Channel
    private let sink: Sink
    var port: Int { channel.localAddress!.port! }
    var received: String { sink.text.withLock { $0 } }

    init() async throws {
        let sink = Sink()
        self.sink = sink
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(Greeter(sink: sink))
                }
            }
            .bind(host: "127.0.0.2", port: 0).get()
    }

    deinit { channel.close(promise: nil) }

    private final class Sink: Sendable {
        let text = Mutex("")
    }

    private final class Greeter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let sink: Sink
        init(sink: Sink) { self.sink = sink }

        func channelActive(context: ChannelHandlerContext) {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "hello"))).whenComplete { _ in
                channel.close(mode: .output, promise: nil)
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let chunk = String(buffer: unwrapInboundIn(data))
            sink.text.withLock { $0 += chunk }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        }
    }
}

/// The rows of /proc/net/tcp that mention `port`, for a failure's message.
func debugTable(_ port: Int) -> String {
    let table = tcpTable()
    let hex = String(port, radix: 16, uppercase: true)
    return table.split(separator: "\n").filter { $0.contains(":" + hex) }.joined(separator: "\n")
}
