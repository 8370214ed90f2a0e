import Glibc
import HAVPNModel

/// Sends ICMPv6 echo requests and reports echo replies, for the path-controller.
///
/// Uses the unprivileged ping socket (`SOCK_DGRAM`, IPPROTO_ICMPV6) when the pod's
/// `net.ipv4.ping_group_range` allows it, and a raw socket (CAP_NET_RAW) otherwise. The kernel
/// fills in the ICMPv6 checksum for both; on the ping socket it also owns the identifier. Either
/// is an AF_INET6 datagram socket to swift-nio (`recvmsg` gives the ICMPv6 message without the IP
/// header, and the sender as a sockaddr_in6), so NIO holds it (``DatagramChannelSocket``).
final class ICMPv6Prober: Sendable {
    private let socket: DatagramChannelSocket
    private let identifier: UInt16
    let isRaw: Bool

    /// - Parameter onReply: called on the event loop with the replying address and sequence.
    init(netns: String?, onReply: @escaping @Sendable (IPv6Address, UInt16) -> Void) throws(HAVPNError) {
        let identifier = UInt16(truncatingIfNeeded: getpid())
        func open(raw: Bool) throws(HAVPNError) -> DatagramChannelSocket {
            try DatagramChannelSocket(
                netns: netns,
                type: Int32((raw ? SOCK_RAW : SOCK_DGRAM).rawValue),
                protocol: Int32(IPPROTO_ICMPV6),
                what: raw ? "icmpv6 raw" : "icmpv6 ping"
            ) { envelope in
                let buffer = envelope.bytes
                // 129 = echo reply
                guard buffer.count >= 8, buffer[0] == 129, let from = envelope.sourceIPv6 else { return }
                let id = UInt16(buffer[4]) << 8 | UInt16(buffer[5])
                if raw && id != identifier { return }  // a raw socket sees every reply in the namespace
                onReply(from.address, UInt16(buffer[6]) << 8 | UInt16(buffer[7]))
            }
        }
        var raw = false
        let s: DatagramChannelSocket
        do {
            s = try open(raw: false)
        } catch {
            s = try open(raw: true)
            raw = true
        }
        socket = s
        isRaw = raw
        self.identifier = identifier
    }

    /// Sends one echo request without waiting; one the kernel refuses (no route, no address) is dropped.
    func send(to address: IPv6Address, sequence: UInt16) {
        var packet: [UInt8] = [
            128, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8),
            UInt8(sequence & 0xff),
        ]
        packet += Array("havpn-probe".utf8)
        socket.send(packet, to: sockaddr_in6(address: address, port: 0))
    }

    func close() { socket.close() }
}
