import Metrics
import NIOCore

/// One half of a tunnel: sits at the end of a channel's pipeline and hands what it reads to its partner on
/// the other channel (both channels on one event loop, so the partners call each other directly).
///
/// Backpressure: a read is only passed on while the partner's channel is writable; otherwise it waits
/// until the partner reports writability again. So a slow reader on one side stops reading on the other
/// side instead of queueing without bound (NIO's glue-handler pattern).
/// Half-close: end of input on this side becomes a shutdown of the partner's output, after the partner's
/// pending writes (NIO flushes before it shuts down); NIO closes a channel fully once both directions are
/// shut. A full close on either side closes the other.
final class TunnelGlue {
    private var partner: TunnelGlue?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var unreportedBytes = 0
    /// Counts what this side reads (the bytes the partner will write).
    private let bytesRead: Counter

    private init(bytesRead: Counter) { self.bytesRead = bytesRead }

    /// The client side's glue and the target side's glue, joined.
    static func pair(metrics: ConnectProxyMetrics) -> (client: TunnelGlue, target: TunnelGlue) {
        let client = TunnelGlue(bytesRead: metrics.bytesToTarget)
        let target = TunnelGlue(bytesRead: metrics.bytesToClient)
        client.partner = target
        target.partner = client
        return (client, target)
    }

    private func partnerWrite(_ data: NIOAny) { context?.write(data, promise: nil) }
    private func partnerFlush() { context?.flush() }
    private func partnerEndOfInput() { context?.close(mode: .output, promise: nil) }
    private func partnerClose() { context?.close(promise: nil) }
    private var partnerIsWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerBecameWritable() {
        guard pendingRead else { return }
        pendingRead = false
        context?.read()
    }

    private func report() {
        guard unreportedBytes > 0 else { return }
        bytesRead.increment(by: unreportedBytes)
        unreportedBytes = 0
    }
}

extension TunnelGlue: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        report()
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        unreportedBytes += unwrapInboundIn(data).readableBytes
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
        // Reported per read burst, not per buffer: one atomic add per wake-up instead of one per 2-64 KiB.
        report()
    }

    func channelInactive(context: ChannelHandlerContext) {
        report()
        partner?.partnerClose()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            report()
            partner?.partnerEndOfInput()
        case is IdleStateHandler.IdleStateEvent:
            // Nothing moved either way for `proxy.idleTimeout`: the whole tunnel goes.
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.partnerClose()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerIsWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
