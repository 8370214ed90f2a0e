internal import CNetlink
import Glibc
import HAVPNModel

/// A NETLINK_ROUTE socket owned through libnl (`nl_socket_alloc`, `nl_connect`), bound to the
/// network namespace of the thread that creates it. Freed (`nl_socket_free`) when the last
/// reference goes, so a receive thread that holds one keeps the descriptor valid until it stops.
final class LibnlSocket: @unchecked Sendable {
    // @unchecked Sendable, why it is safe: the only stored property is `handle`, a `let` set once in
    // init and freed once in deinit (no reference remains by then). libnl's `nl_sock` is not thread
    // safe, so every use is confined to one thread at a time: NetlinkClient's socket is used only on
    // the kernel worker's single thread, and the event monitor's socket only by its receive thread
    // (the monitor's `close()` only takes it back when no thread was started). Sendable is needed
    // only to hand the socket to that one thread, which then holds the last reference.
    let handle: OpaquePointer

    /// libnl allocates one receive buffer of this size per `nl_recv`. The kernel builds dump
    /// datagrams of at most 32 KiB, so this never truncates, and setting it turns libnl's
    /// MSG_PEEK probe (a second system call per datagram) off.
    static let receiveBufferSize = 64 * 1024

    /// - receiveBuffer / sendBuffer: socket buffer sizes (`nl_socket_set_buffer_size`; beyond
    ///   the sysctl limits through the FORCE options, which libnl has no call for).
    /// - groups: rtnetlink multicast groups to join (`nl_socket_add_membership`).
    init(receiveBuffer: Int32, sendBuffer: Int32, groups: [Int32] = [], what: String) throws(HAVPNError) {
        guard let handle = nl_socket_alloc() else {
            throw HAVPNError(
                .io,
                "cannot allocate a libnl socket",
                object: what,
                errno: ENOMEM,
                errnoText: KernelErrors.text(ENOMEM)
            )
        }
        self.handle = handle
        // havpn matches replies by its own sequence numbers and asks for acks itself.
        nl_socket_disable_seq_check(handle)
        nl_socket_disable_auto_ack(handle)
        var result = nl_connect(handle, NETLINK_ROUTE)
        if result < 0 { throw Self.error(result, "cannot open a netlink socket", what: what) }
        result = nl_socket_set_buffer_size(handle, receiveBuffer, sendBuffer)
        if result < 0 { throw Self.error(result, "cannot size the netlink socket buffers", what: what) }
        // Without CAP_NET_ADMIN in the initial user namespace the FORCE options fail and the
        // sizes stay at what the sysctl limits allowed above.
        _ = setOption(SOL_SOCKET, SO_RCVBUFFORCE, receiveBuffer)
        _ = setOption(SOL_SOCKET, SO_SNDBUFFORCE, sendBuffer)
        result = nl_socket_set_msg_buf_size(handle, Self.receiveBufferSize)
        if result < 0 { throw Self.error(result, "cannot size the libnl receive buffer", what: what) }
        for group in groups {
            result = nl_socket_add_membership(handle, group)
            if result < 0 { throw Self.error(result, "cannot join rtnetlink group \(group)", what: what) }
        }
    }

    deinit { nl_socket_free(handle) }

    var fd: Int32 { nl_socket_get_fd(handle) }

    /// The receive buffer the kernel granted.
    var grantedReceiveBuffer: Int32 {
        var granted: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0 ? granted : 0
    }

    /// For the options libnl 3.7 has no call for (FORCE buffer sizes, NETLINK_EXT_ACK,
    /// NETLINK_CAP_ACK, SO_RCVTIMEO).
    @discardableResult
    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var value = value
        return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// Receives then fail at once with `.timeout` (EAGAIN) when nothing is queued.
    func setNonBlocking() { _ = nl_socket_set_nonblocking(handle) }

    func setReceiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// One `nl_sendto` of `count` bytes (a batch chunk), retried on EINTR.
    func send(_ bytes: UnsafeRawPointer, count: Int) throws(HAVPNError) {
        while true {
            let sent = nl_sendto(handle, UnsafeMutableRawPointer(mutating: bytes), count)
            if sent >= 0 { return }
            let code = errno
            if sent == -NLE_INTR { continue }
            throw KernelErrors.error(code, "cannot send netlink request", object: nil)
        }
    }

    /// The outcome of one `nl_recv`.
    enum Received {
        /// A datagram in a buffer libnl allocated; `free` it after use.
        case datagram(UnsafeMutableRawPointer, count: Int)
        /// SO_RCVTIMEO expired, or nothing is queued on a non-blocking socket.
        case timeout
        /// ENOBUFS: the receive buffer overflowed and messages were lost.
        case overflow
        case failure(errno: Int32)
    }

    /// Receives one datagram (`nl_recv`; it retries EINTR itself).
    func receive() -> Received {
        var peer = sockaddr_nl()
        var buffer: UnsafeMutablePointer<UInt8>?
        let count = nl_recv(handle, &peer, &buffer, nil)
        let code = errno
        if count > 0, let buffer { return .datagram(UnsafeMutableRawPointer(buffer), count: Int(count)) }
        free(buffer)
        switch -count {
        case NLE_AGAIN: return .timeout
        // libnl folds ENOBUFS into NLE_NOMEM (a real ENOMEM on recv would as well; reading it as
        // lost messages costs a resync at most).
        case NLE_NOMEM: return .overflow
        case 0: return .failure(errno: EPIPE)  // the socket was shut down
        default: return .failure(errno: code == 0 ? EIO : code)
        }
    }

    private static func error(_ result: Int32, _ message: String, what: String) -> HAVPNError {
        let code = errno
        let text = String(cString: nl_geterror(result))
        return KernelErrors.error(code == 0 ? EIO : code, "\(message) (libnl: \(text))", object: what)
    }
}
