import HAVPNControl
import HAVPNModel
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import HAVPNService

/// The CONNECT proxy on loopback: real sockets, a real echo target inside the (loopback) shoot network.
@Suite(.timeLimit(.minutes(1)))
struct ConnectProxyTests {
    @Test func relaysAStreamBothWaysAndCountsIt() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        let payload = String(repeating: "0123456789abcdef", count: 64 * 1024)  // 1 MiB, more than any buffer
        let head = "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\nHost: 127.0.0.2:\(target.port)\r\n\r\n"
        try await proxy.exchange(head) { exchange in
            #expect(exchange.status == 200)
            #expect(proxy.service.openTunnels == 1)
            try await exchange.writer.write(ByteBuffer(string: payload))
            var echoed = exchange.rest
            while echoed.utf8.count < payload.utf8.count, let chunk = try await exchange.reader.next() {
                echoed += String(buffer: chunk)
            }
            #expect(echoed.utf8.count == payload.utf8.count)
            #expect(echoed == payload, "the echo differs from what was sent")
        }
        #expect(target.acceptedConnections == 1)
        #expect(await eventually { proxy.service.openTunnels == 0 })
        #expect(proxy.counter("havpn_proxy_tunnels_total") == 1)
        #expect(
            await eventually {
                proxy.counter("havpn_proxy_bytes_total", [("direction", "to_target")]) == payload.utf8.count
            }
        )
        // The echo, and the target's trailer if it still made it when the client closed.
        let toClient = proxy.counter("havpn_proxy_bytes_total", [("direction", "to_client")])
        #expect(toClient == payload.utf8.count || toClient == payload.utf8.count + EchoTarget.trailer.utf8.count)
        #expect(try proxy.metrics.expectTimer("havpn_proxy_connect_duration_seconds").values.count == 1)
        await proxy.stop()
    }

    /// The client sends 16 MiB before it reads anything: the echo comes back faster than it is read, the
    /// proxy's writes to the client stall and its reads from the target pause; once the client reads,
    /// everything arrives, in order (a lost wake-up would hang here until the time limit).
    @Test func aReaderThatFallsBehindGetsEverythingInOrder() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        var state: UInt32 = 12345
        let payload = (0..<(16 << 20)).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223  // not periodic within the payload
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        try await proxy.exchange("CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 200 && exchange.rest.isEmpty)
            for offset in stride(from: 0, to: payload.count, by: 1 << 20) {
                try await exchange.writer.write(ByteBuffer(bytes: payload[offset..<offset + (1 << 20)]))
            }
            var received: [UInt8] = []
            received.reserveCapacity(payload.count)
            while received.count < payload.count, let chunk = try await exchange.reader.next() {
                received += chunk.readableBytesView
            }
            #expect(received.count == payload.count)
            #expect(received == payload, "the echo differs from what was sent")
        }
        await proxy.stop()
    }

    /// The client shuts down its output and still receives what the target sends afterwards; the target's
    /// close then reaches the client as end of stream, and the tunnel is gone.
    @Test func relaysHalfCloseBothWays() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        try await proxy.exchange("CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\nearly bytes|") { exchange in
            #expect(exchange.status == 200)
            try await exchange.writer.write(ByteBuffer(string: "last words"))
            exchange.writer.finish()  // shutdown(SHUT_WR)
            let remaining = exchange.rest + (await readToEnd(&exchange.reader))
            #expect(remaining == "early bytes|last words" + EchoTarget.trailer)
        }
        #expect(await eventually { proxy.service.openTunnels == 0 })
        #expect(await eventually { proxy.service.connections.openConnections == 0 })
        await proxy.stop()
    }

    @Test func relaysToABracketedIPv6Literal() async throws {
        guard let target = try? await EchoTarget(host: "::1") else { return }  // no IPv6 loopback here
        let proxy = try await RunningProxy(topology: proxyTopology(shoot: ["127.0.0.2/32", "::1/128"], ipv6: true))
        try await proxy.exchange("CONNECT [::1]:\(target.port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 200)
            try await exchange.writer.write(ByteBuffer(string: "v6"))
            #expect(try await read(&exchange.reader, until: "v6", after: exchange.rest) == "v6")
        }
        #expect(target.acceptedConnections == 1)
        await proxy.stop()
    }

    @Test(arguments: [
        ("CONNECT 127.0.0.5:{port} HTTP/1.1\r\n\r\n", 403, ConnectRefusal.loopback),
        ("CONNECT 127.0.0.200:{port} HTTP/1.1\r\n\r\n", 403, .seedAddress),
        ("CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n", 403, .proxyAddress),
        ("CONNECT localhost:{port} HTTP/1.1\r\n\r\n", 403, .hostName),
        ("GET http://127.0.0.2:{port}/ HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n", 405, .notConnect),
        (
            "CONNECT 127.0.0.2:{port} HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n", 431,
            .headTooLarge
        ),
        ("CONNECT 127.0.0.2:{port} HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000), 431, .headTooLarge),
        ("\u{16}\u{3}\u{1}\u{0}TLS hello to a plain proxy\r\n\r\n", 400, .malformedHead),
    ])
    func refusesWithoutConnectingToTheTarget(head: String, status: Int, reason: ConnectRefusal) async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology())
        try await proxy.exchange(head.replacingOccurrences(of: "{port}", with: "\(target.port)")) { exchange in
            #expect(exchange.status == status)
            #expect((exchange.rest + (await readToEnd(&exchange.reader))) == reason.explanation + "\n")
        }
        #expect(proxy.refusals(reason) == 1)
        #expect(target.acceptedConnections == 0)
        #expect(proxy.counter("havpn_proxy_tunnels_total") == 0)
        #expect(try proxy.metrics.expectTimer("havpn_proxy_connect_duration_seconds").values.isEmpty == true)
        await proxy.stop()
    }

    /// A client that never finishes its head is answered 408 and cut off, long before the idle timeout.
    @Test func refusesAHeadThatDoesNotArriveInTime() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology(), headTimeout: .milliseconds(200))
        let client = try await ProxyClient.connect(to: proxy.address)
        try await client.connection.executeThenClose { inbound, outbound in
            var reader = inbound.makeAsyncIterator()
            try await outbound.write(ByteBuffer(string: "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\nHost: 127."))
            let answer = await readToEnd(&reader)
            #expect(answer.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        }
        #expect(proxy.refusals(.headTimeout) == 1)
        #expect(target.acceptedConnections == 0)
        await proxy.stop()
    }

    @Test func refusesTheProxysOwnAddressEvenInsideTheShootNetwork() async throws {
        let proxy = try await RunningProxy(topology: proxyTopology(shoot: ["127.0.0.0/29"]))
        let port = try #require(proxy.address.port)
        try await proxy.exchange("CONNECT 127.0.0.1:\(port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 403)
        }
        #expect(proxy.refusals(.proxyAddress) == 1)
        await proxy.stop()
    }

    @Test func answers502WhenTheTargetRefuses() async throws {
        // Bind and close: nothing listens on that port any more, so the target answers RST.
        let closed = try await EchoTarget(host: "127.0.0.2")
        let port = closed.port
        try await closed.channel.close()
        let proxy = try await RunningProxy(topology: proxyTopology())
        try await proxy.exchange("CONNECT 127.0.0.2:\(port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 502)
        }
        #expect(proxy.counter("havpn_proxy_connect_failures_total", [("reason", "refused")]) == 1)
        #expect(await eventually { proxy.service.openTunnels == 0 })
        await proxy.stop()
    }

    /// A listener that never accepts and whose accept queue is full: the kernel drops further SYNs, so a
    /// connect to it neither succeeds nor fails until the proxy's connect timeout.
    @Test func answers504AfterTheConnectTimeout() async throws {
        let blackhole = try await FullAcceptQueue()
        let blackholePort = blackhole.port
        let proxy = try await RunningProxy(topology: proxyTopology { $0.connectTimeout = .milliseconds(300) })
        let started = ContinuousClock.now
        try await proxy.exchange("CONNECT 127.0.0.3:\(blackholePort) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 504)
        }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(proxy.counter("havpn_proxy_connect_failures_total", [("reason", "timeout")]) == 1)
        #expect(await eventually { proxy.service.openTunnels == 0 })
        await blackhole.close()
        await proxy.stop()
    }

    @Test func refusesOverTheTunnelCapWith503AndAdmitsAgainAfterAClose() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology { $0.maxTunnels = 2 })
        let head = "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n"
        // Two tunnels fill the cap; nested scopes hold both open (each is closed when its scope ends).
        let first = try await ProxyClient.connect(to: proxy.address)
        try await first.connection.executeThenClose { firstInbound, firstOutbound in
            var firstReader = firstInbound.makeAsyncIterator()
            let firstAnswer = try await first.request(head, reader: &firstReader, writer: firstOutbound)
            #expect(firstAnswer.status == 200)
            let second = try await ProxyClient.connect(to: proxy.address)
            try await second.connection.executeThenClose { secondInbound, secondOutbound in
                var secondReader = secondInbound.makeAsyncIterator()
                let secondAnswer = try await second.request(head, reader: &secondReader, writer: secondOutbound)
                #expect(secondAnswer.status == 200)
                try await proxy.exchange(head) { exchange in #expect(exchange.status == 503) }
                #expect(proxy.refusals(.tunnelLimit) == 1)
                #expect(target.acceptedConnections == 2)
                firstOutbound.finish()
                // The half-close may already have travelled there and back (the echo target closes on
                // it), and NIO then closed the channel itself: either way the first tunnel ends.
                try? await first.connection.channel.close()
                #expect(await eventually { proxy.service.openTunnels == 1 })
                try await proxy.exchange(head) { exchange in #expect(exchange.status == 200) }
            }
        }
        #expect(await eventually { proxy.service.openTunnels == 0 })
        #expect(try proxy.metrics.expectGauge("havpn_proxy_open_tunnels").lastValue == 0)
        await proxy.stop()
    }

    @Test func closesAnIdleTunnel() async throws {
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology { $0.idleTimeout = .milliseconds(200) })
        let started = ContinuousClock.now
        try await proxy.exchange("CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n") { exchange in
            #expect(exchange.status == 200)
            #expect(await readToEnd(&exchange.reader) == "")  // ends when the proxy closes the quiet tunnel
        }
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        #expect(await eventually { proxy.service.openTunnels == 0 })
        await proxy.stop()
    }

    @Test func bindFailureIsOneLineError() async throws {
        let occupied = try await EchoTarget(host: "127.0.0.1")
        let topology = try proxyTopology { $0.port = occupied.port }
        let service = try ConnectProxyService(
            topology: topology,
            logger: .init(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        do {
            try await service.run()
            Issue.record("bind succeeded on an occupied port")
        } catch let error as HAVPNError {
            #expect(error.code == .io)
            #expect(error.description.contains("127.0.0.1:\(occupied.port)"))
            #expect(error.description.contains("errno 98"))
            #expect(!error.description.contains("\n"))
        }
    }
}
