import Glibc
import HAVPNModel

/// A datagram received with the interface it arrived on (IPV6_PKTINFO), so the
/// tunnel-controller can reject announcements that did not come in over the bond.
struct ReceivedDatagram: Sendable {
    var source: IPv6Address
    var sourcePort: UInt16
    var interfaceIndex: Int32
    var payload: [UInt8]
}

/// UDP over IPv6 for announcements: the apiserver side sends from its bond address, the shoot
/// side listens on the announcement port.
final class UDP6Socket: Sendable {
    private let socket: PosixSocket
    // Linux uapi values (<linux/in6.h>); Glibc's module does not export them.
    private static let ipv6RecvPktInfo: Int32 = 49
    private static let ipv6PktInfo: Int32 = 50

    /// Binds to `address` (nil = any) and `port` (0 = any) inside `netns`.
    init(netns: String?, bindTo address: IPv6Address?, port: UInt16, freebind: Bool = false) throws(HAVPNError) {
        socket = try PosixSocket(
            domain: AF_INET6,
            type: Int32(SOCK_DGRAM.rawValue),
            protocol: Int32(IPPROTO_UDP),
            netns: netns,
            what: "udp6"
        )
        socket.setOption(Int32(IPPROTO_IPV6), Self.ipv6RecvPktInfo, 1)
        socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        // The bond address may not exist yet when the controller starts; IPV6_FREEBIND lets the
        // sender bind to it anyway, and sending works as soon as the planner has added it.
        if freebind { socket.setOption(Int32(IPPROTO_IPV6), 78 /* IPV6_FREEBIND */, 1) }
        let what = "udp6 [\(address.map { "\($0)" } ?? "::")]:\(port)"
        let rc = withSockaddr(sockaddr_in6(address: address ?? IPv6Address(high: 0, low: 0), port: port)) {
            bind(socket.fd, $0, $1)
        }
        guard rc == 0 else { throw PosixSocket.error("cannot bind", object: what) }
    }

    @discardableResult
    func send(_ payload: [UInt8], to address: IPv6Address, port: UInt16) -> Bool {
        let n = withSockaddr(sockaddr_in6(address: address, port: port)) { sa, len in
            socket.withFD { sendto($0, payload, payload.count, Int32(MSG_DONTWAIT), sa, len) } ?? -1
        }
        return n == payload.count
    }

    /// `handler` runs on the ``SocketReader`` thread for every datagram (it must not block).
    func startReceiving(_ handler: @escaping @Sendable (ReceivedDatagram) -> Void) {
        let s = socket
        SocketReader.shared.add(s) {
            var buffer = [UInt8](repeating: 0, count: 2048)
            var control = [UInt8](repeating: 0, count: 128)
            var from = sockaddr_in6()
            let (n, controlLength): (Int, Int) = buffer.withUnsafeMutableBytes { buf in
                control.withUnsafeMutableBytes { ctl in
                    withUnsafeMutablePointer(to: &from) { fromPtr in
                        var iov = iovec(iov_base: buf.baseAddress, iov_len: buf.count)
                        return withUnsafeMutablePointer(to: &iov) { iovPtr in
                            var msg = msghdr()
                            msg.msg_name = UnsafeMutableRawPointer(fromPtr)
                            msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
                            msg.msg_iov = iovPtr
                            msg.msg_iovlen = 1
                            msg.msg_control = ctl.baseAddress
                            msg.msg_controllen = ctl.count
                            let r = recvmsg(s.fd, &msg, Int32(MSG_DONTWAIT))
                            return (r, Int(msg.msg_controllen))
                        }
                    }
                }
            }
            guard n >= 0 else { return }
            handler(
                ReceivedDatagram(
                    source: from.address,
                    sourcePort: from.port,
                    interfaceIndex: Self.pktInfoInterface(control, length: min(controlLength, control.count)),
                    payload: Array(buffer[0..<n])
                )
            )
        }
    }

    /// Walks the control messages by hand (CMSG_* are C macros Swift cannot import):
    /// cmsghdr is { size_t len; int level; int type; } followed by data aligned to 8.
    static func pktInfoInterface(_ control: [UInt8], length: Int) -> Int32 {
        var offset = 0
        return control.withUnsafeBytes { raw -> Int32 in
            while offset + 16 <= length {
                let len = raw.loadUnaligned(fromByteOffset: offset, as: Int.self)
                let level = raw.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self)
                let type = raw.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self)
                if len < 16 { return 0 }
                if level == Int32(IPPROTO_IPV6), type == ipv6PktInfo, offset + 16 + 20 <= length {
                    return raw.loadUnaligned(fromByteOffset: offset + 16 + 16, as: Int32.self)
                }
                offset += (len + 7) & ~7
            }
            return 0
        }
    }

    func close() { socket.close() }

    /// The descriptor as the reader holds it (tests).
    var descriptor: PosixSocket { socket }

    /// The bound port (after binding to port 0), nil if the kernel does not say.
    var localPort: UInt16? {
        socket.withFD { fd -> UInt16? in
            var address = sockaddr_in6()
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            let rc = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            return rc == 0 ? address.port : nil
        } ?? nil
    }
}
