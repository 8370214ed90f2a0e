import Glibc
import HAVPNModel
import HAVPNNetlink
import Synchronization

/// A datagram socket (or another descriptor read like one, such as an inotify instance), read on
/// the process's one ``SocketReader`` thread and written from any thread.
///
/// Sockets belong to the network namespace of the thread that created them, so they are
/// created inside the pod's namespace (`--netns`) and used from any thread afterwards.
final class PosixSocket: Sendable {
    /// Used directly only in `init` (bind) and by the ``SocketReader``, which holds a use while it
    /// polls and reads it; everything else goes through ``withFD(_:)``. The kernel serialises
    /// concurrent send and recv on one socket.
    let fd: Int32
    private struct Use {
        var closed = false
        var users = 0
        var released = false
    }
    private let use = Mutex(Use())

    init(domain: Int32, type: Int32, protocol proto: Int32, netns: String?, what: String) throws(HAVPNError) {
        let fd = try NetworkNamespace.run(in: netns) { () throws(HAVPNError) -> Int32 in
            let fd = socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), proto)
            guard fd >= 0 else { throw PosixSocket.error("cannot open \(what) socket", object: what) }
            return fd
        }
        self.fd = fd
    }

    /// Takes over a descriptor opened elsewhere (an inotify instance); closed like a socket.
    init(adopting fd: Int32) { self.fd = fd }

    deinit { close() }

    /// Stops all use. The descriptor itself is released only when nobody uses it any more: the
    /// reader may be polling or reading it right now, and closing the number under it would let
    /// it read from whatever the process opens next with that number (seen in the tests, with a
    /// thread per socket: another test's HTTP connection lost its bytes).
    func close() {
        let closing = use.withLock { u in
            guard !u.closed else { return false }
            u.closed = true
            releaseIfUnused(&u)
            return true
        }
        if closing { SocketReader.shared.wake() }
    }

    var isClosed: Bool { use.withLock { $0.closed } }
    /// Someone (the reader's current round) holds a use of the descriptor.
    var isInUse: Bool { use.withLock { $0.users > 0 } }
    /// The descriptor number has been given back to the kernel.
    var isReleased: Bool { use.withLock { $0.released } }

    /// Runs `body` with the descriptor, or returns nil once the socket is closed.
    func withFD<R>(_ body: (Int32) -> R) -> R? {
        guard acquire() else { return nil }
        defer { release() }
        return body(fd)
    }

    func acquire() -> Bool {
        use.withLock { u in
            guard !u.closed else { return false }
            u.users += 1
            return true
        }
    }

    func release() {
        use.withLock { u in
            u.users -= 1
            releaseIfUnused(&u)
        }
    }

    private func releaseIfUnused(_ u: inout Use) {
        if u.closed, u.users == 0, !u.released {
            u.released = true
            _ = Glibc.close(fd)
        }
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    static func error(_ message: String, object: String) -> HAVPNError {
        let code = errno
        let kind: HAVPNError.Code = (code == EPERM || code == EACCES) ? .permission : .io
        return HAVPNError(kind, message, object: object, errno: code, errnoText: String(cString: strerror(code)))
    }
}

extension sockaddr_in6 {
    init(address: IPv6Address, port: UInt16, scope: UInt32 = 0) {
        self.init()
        sin6_family = sa_family_t(AF_INET6)
        sin6_port = port.bigEndian
        sin6_scope_id = scope
        let b = address.bytes
        withUnsafeMutableBytes(of: &sin6_addr) { raw in
            for i in 0..<16 { raw[i] = b[i] }
        }
    }

    var address: IPv6Address {
        withUnsafeBytes(of: sin6_addr) { IPv6Address(bytes: Array($0)) }
    }

    var port: UInt16 { UInt16(bigEndian: sin6_port) }
}

func withSockaddr<R>(_ addr: sockaddr_in6, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
    var a = addr
    return withUnsafePointer(to: &a) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    }
}
