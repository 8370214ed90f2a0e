import Glibc
import HAVPNModel
import HAVPNNetlink
import NIOCore
import NIOPosix

/// A datagram socket opened inside the pod's network namespace and then held by swift-nio: NIO
/// reads it on its event loop (`recvmsg`, with the IPV6_PKTINFO control message when asked) and
/// closes it, so receiving needs no thread of havpn's own.
///
/// A socket belongs to the namespace of the thread that creates it, and NIO's event-loop threads
/// never switch namespace (the HTTP endpoint listens in the starting one). So the descriptor is
/// created, configured and bound here, on the calling thread inside `netns`, and handed over bound
/// (`DatagramBootstrap.withBoundSocket`). The caller must not be an event loop (this waits for the
/// registration) and should not be the cooperative pool (entering a namespace blocks the thread):
/// the side-car opens its sockets on the kernel worker's thread.
final class DatagramChannelSocket: Sendable {
    let channel: any Channel
    /// The number NIO holds (tests read it). Used only by ``send(_:to:)``, on the channel's event loop and only
    /// while the channel is active: NIO closes the descriptor on that same loop, so the number
    /// cannot have been released (and reused by another open) under the `sendto`.
    let fd: Int32

    /// - Parameters:
    ///   - configure: sets options on and binds the new descriptor, inside `netns`.
    ///   - packetInfo: deliver the arrival interface (`AddressedEnvelope.metadata?.packetInfo`).
    ///   - onDatagram: runs on the event loop for every datagram; it must not block.
    init(
        netns: String?,
        type: Int32,
        protocol proto: Int32,
        what: String,
        packetInfo: Bool = false,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        configure: (Int32) throws(HAVPNError) -> Void = { _ throws(HAVPNError) in },
        onDatagram: (@Sendable (AddressedEnvelope<ByteBuffer>) -> Void)?
    ) throws(HAVPNError) {
        let fd = try NetworkNamespace.run(in: netns) { () throws(HAVPNError) -> Int32 in
            let fd = socket(AF_INET6, type | Int32(SOCK_CLOEXEC.rawValue), proto)
            guard fd >= 0 else { throw PosixSocket.error("cannot open \(what) socket", object: what) }
            do throws(HAVPNError) {
                try configure(fd)
            } catch {
                _ = Glibc.close(fd)
                throw error
            }
            return fd
        }
        var bootstrap = DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramReceiver(onDatagram))
                }
            }
        if packetInfo { bootstrap = bootstrap.channelOption(.receivePacketInfo, value: true) }
        // A send-only socket is never read, as before: what arrives there is nobody's business.
        if onDatagram == nil { bootstrap = bootstrap.channelOption(.autoRead, value: false) }
        do {
            // NIO owns the descriptor from here on, also when registering fails (it closes it).
            channel = try bootstrap.withBoundSocket(fd).wait()
        } catch {
            throw HAVPNError(.io, "cannot register the socket with swift-nio: \(error)", object: what)
        }
        self.fd = fd
    }

    deinit { channel.close(promise: nil) }

    /// Sends one datagram without waiting. Not through NIO's write path: there a refused datagram
    /// (ENETUNREACH before the route exists, EPERM from a packet filter, EADDRNOTAVAIL before the
    /// bond address is added) closes the whole channel, while a datagram socket outlives a refused
    /// datagram; the caller would lose its socket for good. Sent from the event loop, see `fd`.
    func send(_ payload: [UInt8], to address: sockaddr_in6) {
        let channel = channel
        let fd = fd
        channel.eventLoop.execute {
            guard channel.isActive else { return }
            _ = withSockaddr(address) { sendto(fd, payload, payload.count, Int32(MSG_DONTWAIT), $0, $1) }
        }
    }

    /// Closes the channel; NIO releases the descriptor on its event loop.
    func close() { channel.close(promise: nil) }

    /// The bound port (after binding to port 0).
    var localPort: UInt16? { channel.localAddress?.port.map { UInt16(truncatingIfNeeded: $0) } }
}

/// Hands each datagram to the owner's callback.
private final class DatagramReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let onDatagram: (@Sendable (AddressedEnvelope<ByteBuffer>) -> Void)?

    init(_ onDatagram: (@Sendable (AddressedEnvelope<ByteBuffer>) -> Void)?) { self.onDatagram = onDatagram }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onDatagram?(unwrapInboundIn(data))
    }

    /// The errors NIO reports without closing (ECONNREFUSED after a refused send, ENOMEM) leave
    /// the socket usable, as a failed `recvfrom` did before.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

extension AddressedEnvelope<ByteBuffer> {
    /// The sender as a sockaddr_in6 (every socket here is AF_INET6).
    var sourceIPv6: sockaddr_in6? {
        if case .v6(let address) = remoteAddress { return address.address }
        return nil
    }

    var bytes: [UInt8] { Array(data.readableBytesView) }
}
