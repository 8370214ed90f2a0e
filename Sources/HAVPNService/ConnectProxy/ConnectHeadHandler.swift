import HAVPNControl
import HAVPNModel
import Logging
import NIOCore
import NIOPosix

/// Timings of one proxied connection, from the topology's `proxy` section.
struct ConnectProxyTimings: Sendable {
    var connect: TimeAmount
    var idle: TimeAmount
    /// Longest wait for a complete head (TLS handshake included): a client that opens a connection and
    /// says nothing must not hold it for the whole idle timeout.
    var head: TimeAmount = .seconds(10)
    /// After a refusal, how long unread request bytes are drained before the socket is closed (closing
    /// with unread bytes sends a reset, which can destroy the refusal before the client reads it).
    var linger: TimeAmount = .seconds(2)
}

/// The first handler of every accepted connection: reads the request head (bounded in size and time),
/// asks the ``ConnectPolicy``, and either answers a refusal or connects to the target and turns the
/// connection into a tunnel (``TunnelGlue`` on both channels), removing itself.
final class ConnectHeadHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case readingHead(ByteBuffer)
        /// Waiting for the target; bytes the client sent after the head, and whether it already half-closed.
        case connecting(leftover: ByteBuffer, inputClosed: Bool)
        /// A refusal is on its way; input is drained and dropped.
        case refused
        /// Tunnel installed (this handler is being removed) or the client went away.
        case done
    }

    private var state = State.readingHead(ByteBuffer())
    private var headTimer: Scheduled<Void>?
    private let policy: ConnectPolicy
    private let timings: ConnectProxyTimings
    private let connections: ProxyConnections
    private let metrics: ConnectProxyMetrics
    private let logger: Logger

    init(
        policy: ConnectPolicy,
        timings: ConnectProxyTimings,
        connections: ProxyConnections,
        metrics: ConnectProxyMetrics,
        logger: Logger
    ) {
        self.policy = policy
        self.timings = timings
        self.connections = connections
        self.metrics = metrics
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        headTimer = context.eventLoop.scheduleTask(in: timings.head) {
            let (handler, context) = loopBound.value
            if case .readingHead = handler.state { handler.refuse(.headTimeout, context: context) }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { headTimer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch state {
        case .readingHead(var head):
            state = .done  // avoids a copy-on-write of `head` while it grows
            head.writeBuffer(&bytes)
            switch policy.examine(head.readableBytesView) {
            case .incomplete: state = .readingHead(head)
            case .refuse(let reason): refuse(reason, context: context)
            case .relay(let target, let headLength):
                headTimer?.cancel()
                head.moveReaderIndex(forwardBy: headLength)  // what is left is the client's first tunnel bytes
                guard connections.acquireTunnel() else { return refuse(.tunnelLimit, context: context) }
                state = .connecting(leftover: head, inputClosed: false)
                connect(to: target, context: context)
            }
        case .connecting(var leftover, let inputClosed):
            leftover.writeBuffer(&bytes)
            state = .connecting(leftover: leftover, inputClosed: inputClosed)
        case .refused, .done:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case ChannelEvent.inputClosed = event else { return context.fireUserInboundEventTriggered(event) }
        switch state {
        case .readingHead:
            // The client stopped sending before its head was complete.
            refuse(.malformedHead, context: context)
        case .connecting(let leftover, _):
            state = .connecting(leftover: leftover, inputClosed: true)
        case .refused:
            context.close(promise: nil)
        case .done:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        headTimer?.cancel()
        if case .readingHead = state { state = .done }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("proxy connection failed", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Refusing

    private func refuse(_ reason: ConnectRefusal, context: ChannelHandlerContext) {
        metrics.refused(reason)
        logger.debug("CONNECT refused", metadata: ["reason": "\(reason.rawValue)"])
        answerAndClose(ConnectResponse.refusal(reason), context: context)
    }

    /// Writes `response`, shuts the output (the client reads the answer, then end of stream), drains the
    /// input until the client closes or `linger` ends, then closes.
    private func answerAndClose(_ response: [UInt8], context: ChannelHandlerContext) {
        headTimer?.cancel()
        state = .refused
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: response))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        channel.eventLoop.scheduleTask(in: timings.linger) { channel.close(promise: nil) }
        channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
    }

    // MARK: - Connecting

    private func connect(to target: ConnectTarget, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        let client = context.channel
        // No more client bytes until the tunnel exists; what already arrived waits in `leftover`.
        client.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in client.close(promise: nil) }
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: target.address.description, port: target.port)
        } catch {
            return failed(.refused, target: target, context: context)
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(timings.connect)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: ConnectProxyService.recvAllocator)
            .channelOption(.writeBufferWaterMark, value: ConnectProxyService.writeBufferWaterMark)
            .connect(to: address)
            .whenComplete { result in
                let (handler, context) = loopBound.value
                handler.metrics.connectDuration.recordNanoseconds(Int64((NIODeadline.now() - started).nanoseconds))
                switch result {
                case .success(let targetChannel): handler.connected(targetChannel, target: target, context: context)
                case .failure(let error):
                    if case ChannelError.connectTimeout = error {
                        handler.failed(.timeout, target: target, context: context)
                    } else {
                        handler.failed(.refused, target: target, context: context)
                    }
                }
            }
    }

    private func failed(_ failure: ConnectFailure, target: ConnectTarget, context: ChannelHandlerContext) {
        connections.releaseTunnel()
        metrics.failed(failure)
        logger.debug("CONNECT target unreachable", metadata: ["target": "\(target)", "failure": "\(failure.rawValue)"])
        guard context.channel.isActive else { return }
        answerAndClose(ConnectResponse.failure(failure), context: context)
    }

    private func connected(_ targetChannel: any Channel, target: ConnectTarget, context: ChannelHandlerContext) {
        let connections = self.connections
        guard case .connecting(let leftover, let inputClosed) = state, context.channel.isActive else {
            // The client left while we were connecting.
            targetChannel.close(promise: nil)
            connections.releaseTunnel()
            return
        }
        state = .done
        let client = context.channel
        client.closeFuture.and(targetChannel.closeFuture).whenComplete { _ in connections.releaseTunnel() }
        do {
            let (clientGlue, targetGlue) = TunnelGlue.pair(metrics: metrics)
            try targetChannel.pipeline.syncOperations.addHandler(targetGlue)
            try context.pipeline.syncOperations.addHandlers(
                [IdleStateHandler(allTimeout: timings.idle), clientGlue],
                position: .last
            )
            context.write(wrapOutboundOut(ByteBuffer(bytes: ConnectResponse.established)), promise: nil)
            context.flush()
            if leftover.readableBytes > 0 {
                metrics.bytesToTarget.increment(by: leftover.readableBytes)
                targetChannel.writeAndFlush(leftover, promise: nil)
            }
            metrics.tunnels.increment()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            if inputClosed { client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
            client.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in client.close(promise: nil) }
        } catch {
            logger.warning("cannot set up a tunnel", metadata: ["target": "\(target)", "error": "\(error)"])
            targetChannel.close(promise: nil)
            client.close(promise: nil)
        }
    }
}
