import CSplice
import Glibc
import HAVPNControl
import HAVPNModel
import Logging
import NIOCore
import Synchronization

/// What the plain (no `proxy.tls`) CONNECT proxy's relay thread needs; all of it is shared with the
/// NIO path (tunnel slots, metrics, policy).
struct SpliceSettings: Sendable {
    let policy: ConnectPolicy
    let timings: ConnectProxyTimings
    let connections: ProxyConnections
    let metrics: ConnectProxyMetrics
    let logger: Logger
}

/// The plain CONNECT proxy: one thread owns the listening socket and every accepted and dialled
/// socket, waits on them with epoll (``SpliceLoop``), and once a tunnel is up relays its bytes with
/// splice(2) through a pipe per direction, so they never cross into user space.
///
/// NIO has no splice path and does not hand out its sockets' descriptors, so this path does not use
/// NIO at all: a request head is small and its handling (read, judge, dial, answer) is a short state
/// machine on the same thread. The thread is started by ``run()`` and is not one of the cooperative
/// pool's (epoll_wait blocks).
final class SpliceProxy: Sendable {
    /// Where the proxy listens (the port the kernel chose, for port 0).
    let address: SocketAddress
    let settings: SpliceSettings
    let listener: Int32
    let epoll: Int32
    /// An eventfd in the epoll set: ``stop()`` writes it so that epoll_wait returns.
    let wake: Int32
    let stopping = Atomic<Bool>(false)
    /// Bytes relayed by splice(2), both ways (tests check that plain tunnels take this path).
    let splicedBytes = Atomic<Int>(0)
    /// Descriptors the relay holds for its connections (sockets and pipe ends; not its own three).
    let descriptors = Atomic<Int>(0)

    /// Binds and listens (backlog 1024) on `host`:`port`.
    init(host: String, port: Int, settings: SpliceSettings) throws(HAVPNError) {
        self.settings = settings
        func failure(_ code: Int32) -> HAVPNError {
            HAVPNError(
                .io,
                "cannot listen for the CONNECT proxy",
                keyPath: "proxy",
                object: "\(host):\(port)",
                errno: code,
                errnoText: String(cString: strerror(code))
            )
        }
        let requested: SocketAddress
        do {
            requested = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw HAVPNError(
                .io,
                "cannot listen for the CONNECT proxy: \(error)",
                keyPath: "proxy",
                object: "\(host):\(port)"
            )
        }
        let fd = csplice_tcp_socket(Int32(requested.protocol.rawValue))
        guard fd >= 0 else { throw failure(errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withSockaddr(requested) { bind(fd, $0, $1) } ?? -1
        guard bound == 0, listen(fd, 1024) == 0 else {
            let code = errno
            close(fd)
            throw failure(code)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        // sin_port and sin6_port sit at the same offset.
        let boundPort = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        address = (try? SocketAddress(ipAddress: requested.ipAddress ?? host, port: boundPort)) ?? requested
        listener = fd
        epoll = csplice_epoll_create()
        wake = csplice_eventfd()
        guard epoll >= 0, wake >= 0 else {
            let code = errno
            for descriptor in [fd, epoll, wake] where descriptor >= 0 { close(descriptor) }
            throw failure(code)
        }
        _ = csplice_epoll_ctl(epoll, 1, wake, UInt32(CSPLICE_EPOLLIN))
        _ = csplice_epoll_ctl(epoll, 1, listener, UInt32(CSPLICE_EPOLLIN))
    }

    // Closed only here, never by the thread: a late ``stop()`` must not write to a reused number.
    deinit {
        close(listener)
        close(epoll)
        close(wake)
    }

    /// Serves until ``stop()``; then every connection is closed and its tunnel slot released.
    func run() async {
        // splice(2) has no MSG_NOSIGNAL: a write into a socket its peer reset must be EPIPE, not death.
        signal(SIGPIPE, SIG_IGN)
        // A spliced tunnel holds six descriptors (two sockets, two pipes), three times NIO's two, so the
        // soft limit goes up to the hard one, as Go's runtime does at start (nothing here uses select).
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            startThread(name: "havpn-proxy") {
                SpliceLoop(proxy: self).run()
                done.resume()
            }
        }
    }

    /// Makes ``run()`` return (idempotent, any thread).
    func stop() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }
}

/// Calls `body` with `address` as a `sockaddr` and its length (IPv4 and IPv6 only).
func withSockaddr<Result>(
    _ address: SocketAddress,
    _ body: (UnsafePointer<sockaddr>, socklen_t) -> Result
) -> Result? {
    switch address {
    case .v4(let v4):
        var raw = v4.address
        return withUnsafePointer(to: &raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    case .v6(let v6):
        var raw = v6.address
        return withUnsafePointer(to: &raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
    default:
        return nil
    }
}

/// The service's running ``SpliceProxy`` (the service is a struct, copied into its task).
final class SpliceHandle: Sendable {
    private let proxy = Mutex<SpliceProxy?>(nil)
    func set(_ new: SpliceProxy) { proxy.withLock { $0 = new } }
    var current: SpliceProxy? { proxy.withLock { $0 } }
}
