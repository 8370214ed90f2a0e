import Glibc
import HAVPNModel

/// Sends ICMPv6 echo requests and reports echo replies, for the path-controller.
///
/// Uses the unprivileged ping socket (`SOCK_DGRAM`, IPPROTO_ICMPV6) when the pod's
/// `net.ipv4.ping_group_range` allows it, and a raw socket (CAP_NET_RAW) otherwise. The kernel
/// fills in the ICMPv6 checksum for both; on the ping socket it also owns the identifier.
final class ICMPv6Prober: Sendable {
    private let socket: PosixSocket
    private let identifier: UInt16
    let isRaw: Bool

    /// - Parameter onReply: called on the ``SocketReader`` thread with the replying address and sequence.
    init(netns: String?, onReply: @escaping @Sendable (IPv6Address, UInt16) -> Void) throws(HAVPNError) {
        var raw = false
        let s: PosixSocket
        do {
            s = try PosixSocket(
                domain: AF_INET6,
                type: Int32(SOCK_DGRAM.rawValue),
                protocol: Int32(IPPROTO_ICMPV6),
                netns: netns,
                what: "icmpv6 ping"
            )
        } catch {
            s = try PosixSocket(
                domain: AF_INET6,
                type: Int32(SOCK_RAW.rawValue),
                protocol: Int32(IPPROTO_ICMPV6),
                netns: netns,
                what: "icmpv6 raw"
            )
            raw = true
        }
        socket = s
        isRaw = raw
        identifier = UInt16(truncatingIfNeeded: getpid())
        let ident = identifier
        let isRawSocket = raw
        SocketReader.shared.add(s) {
            var buffer = [UInt8](repeating: 0, count: 1500)
            var from = sockaddr_in6()
            var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
            let n = withUnsafeMutablePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(s.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT), $0, &len)
                }
            }
            guard n >= 8, buffer[0] == 129 else { return }  // 129 = echo reply
            let id = UInt16(buffer[4]) << 8 | UInt16(buffer[5])
            if isRawSocket && id != ident { return }  // a raw socket sees every reply in the namespace
            onReply(from.address, UInt16(buffer[6]) << 8 | UInt16(buffer[7]))
        }
    }

    /// Sends one echo request; returns false when the kernel refused it (no route, no address).
    @discardableResult
    func send(to address: IPv6Address, sequence: UInt16) -> Bool {
        var packet: [UInt8] = [
            128, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff), UInt8(sequence >> 8),
            UInt8(sequence & 0xff),
        ]
        packet += Array("havpn-probe".utf8)
        let sent = withSockaddr(sockaddr_in6(address: address, port: 0)) { sa, len in
            socket.withFD { sendto($0, packet, packet.count, Int32(MSG_DONTWAIT), sa, len) } ?? -1
        }
        return sent == packet.count
    }

    func close() { socket.close() }
}
