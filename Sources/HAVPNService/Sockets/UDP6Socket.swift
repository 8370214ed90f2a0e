import Glibc
import HAVPNModel
import NIOCore

/// A datagram received with the interface it arrived on (IPV6_PKTINFO), so the
/// tunnel-controller can reject announcements that did not come in over the bond.
struct ReceivedDatagram: Sendable {
    var source: IPv6Address
    var sourcePort: UInt16
    var interfaceIndex: Int32
    var payload: [UInt8]
}

/// UDP over IPv6 for announcements: the apiserver side sends from its bond address, the shoot
/// side listens on the announcement port. Held by swift-nio (``DatagramChannelSocket``).
final class UDP6Socket: Sendable {
    private let socket: DatagramChannelSocket

    /// Binds to `address` (nil = any) and `port` (0 = any) inside `netns`.
    /// - Parameter onDatagram: runs on the event loop for every datagram (it must not block); nil
    ///   for a sender, whose socket is then never read.
    init(
        netns: String?,
        bindTo address: IPv6Address?,
        port: UInt16,
        freebind: Bool = false,
        onDatagram: (@Sendable (ReceivedDatagram) -> Void)? = nil
    ) throws(HAVPNError) {
        let what = "udp6 [\(address.map { "\($0)" } ?? "::")]:\(port)"
        socket = try DatagramChannelSocket(
            netns: netns,
            type: Int32(SOCK_DGRAM.rawValue),
            protocol: Int32(IPPROTO_UDP),
            what: what,
            packetInfo: onDatagram != nil,
            configure: { fd throws(HAVPNError) in
                var one: Int32 = 1
                let size = socklen_t(MemoryLayout<Int32>.size)
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size)
                // The bond address may not exist yet when the controller starts; IPV6_FREEBIND lets
                // the sender bind to it anyway, and sending works as soon as the planner has added it.
                if freebind {
                    setsockopt(fd, Int32(IPPROTO_IPV6), 78 /* IPV6_FREEBIND */, &one, size)
                }
                let bound = sockaddr_in6(address: address ?? IPv6Address(high: 0, low: 0), port: port)
                guard withSockaddr(bound, { bind(fd, $0, $1) }) == 0 else {
                    throw PosixSocket.error("cannot bind", object: what)
                }
            },
            onDatagram: onDatagram.map(Self.receiver)
        )
    }

    /// Turns NIO's envelope into a ``ReceivedDatagram``.
    private static func receiver(
        _ handler: @escaping @Sendable (ReceivedDatagram) -> Void
    ) -> @Sendable (AddressedEnvelope<ByteBuffer>) -> Void {
        { envelope in
            guard let from = envelope.sourceIPv6 else { return }
            // No IPV6_PKTINFO (it is always asked for) reads as interface 0, which is never the
            // bond: the announcement is rejected and counted, as before.
            let interface = envelope.metadata?.packetInfo?.interfaceIndex ?? 0
            handler(
                ReceivedDatagram(
                    source: from.address,
                    sourcePort: from.port,
                    interfaceIndex: Int32(truncatingIfNeeded: interface),
                    payload: envelope.bytes
                )
            )
        }
    }

    /// Sends without waiting; a datagram the kernel refuses (no route yet) is dropped.
    func send(_ payload: [UInt8], to address: IPv6Address, port: UInt16) {
        socket.send(payload, to: sockaddr_in6(address: address, port: port))
    }

    func close() { socket.close() }

    /// The channel and its descriptor number (tests).
    var channel: any Channel { socket.channel }
    var descriptor: Int32 { socket.fd }

    /// The bound port (after binding to port 0), nil if the kernel does not say.
    var localPort: UInt16? { socket.localPort }
}
