internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner
import Synchronization

/// What changed in the kernel, as far as drift detection cares.
public enum KernelEvent: Sendable, Hashable {
    case link
    /// A link named like a server tap (`<tapPrefix><n>`) changed, e.g. lost or regained carrier
    /// because its openvpn client lost or found its server: bonds are failing over.
    case serverTap
    case address
    /// A route carrying havpn's protocol was added, changed or removed.
    case ownedRoute
    /// The socket buffer overflowed (ENOBUFS): events were lost, so resync everything.
    case overflow
    /// havpn's packet-filter chains differ from the last applied ruleset (found by the 250 ms
    /// fingerprint poll: rulesets raise no rtnetlink event).
    case ruleset
}

/// Subscribes to rtnetlink multicast groups (links, IPv4/IPv6 addresses and routes) in the pod's
/// namespace, like systemd-networkd does, so drift is repaired within milliseconds rather than at
/// the next timer. The events only say *that* something changed; the reconcile pass re-reads the
/// kernel, so a lost or coalesced event costs nothing but latency.
///
/// The socket is libnl's (`nl_socket_add_membership` for the groups, `nl_recv`), and messages
/// are read with the same libnl parsing as dumps.
public final class NetlinkEventMonitor: Sendable {
    private struct State {
        /// Held here until ``start(_:)`` hands it to the receive thread, which then holds the last
        /// reference: the descriptor is released when that thread stops (or at ``close()`` when it
        /// never started), never under a pending receive.
        var socket: LibnlSocket?
        var closed = false
        /// The wake pipe is open until the receive thread stops (it closes both ends then), or
        /// until ``close()`` when no thread was started.
        var pipeOpen = true
        /// The receive thread sleeps in `poll` (tests wait for it before closing).
        var waiting = false
    }
    private let state: Mutex<State>
    private let tapPrefix: String
    /// A pipe whose write end ends the receive thread's `poll` at ``close()`` (Glibc's module does
    /// not import <sys/eventfd.h>).
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// The socket's descriptor number, for tests that check it is released.
    package let descriptor: Int32

    private static let groups: [Int32] = [
        Int32(RTNLGRP_LINK.rawValue), Int32(RTNLGRP_IPV4_IFADDR.rawValue), Int32(RTNLGRP_IPV4_ROUTE.rawValue),
        Int32(RTNLGRP_IPV6_IFADDR.rawValue), Int32(RTNLGRP_IPV6_ROUTE.rawValue),
    ]

    /// Subscribes in the namespace `netns` (a name under /run/netns or a path), or in the calling
    /// thread's namespace when nil. `receiveBuffer` bounds how many events may queue before the
    /// kernel drops them and the monitor reports `.overflow`.
    public convenience init(netns: String?, tapPrefix: String, receiveBuffer: Int32 = 4 << 20) throws(HAVPNError) {
        let socket = try NetworkNamespace.run(in: netns) { () throws(HAVPNError) in
            try LibnlSocket(
                receiveBuffer: receiveBuffer,
                sendBuffer: 32 * 1024,
                groups: Self.groups,
                what: "rtnetlink monitor"
            )
        }
        try self.init(socket: socket, tapPrefix: tapPrefix)
    }

    /// Subscribes in the namespace behind an open fd, e.g. a test's fresh, unnamed namespace.
    package convenience init(netnsFD: Int32, tapPrefix: String, receiveBuffer: Int32 = 4 << 20) throws(HAVPNError) {
        let namespace = try NetworkNamespace(duplicating: netnsFD, name: "fd")
        let socket = try namespace.withEntered { () throws(HAVPNError) in
            try LibnlSocket(
                receiveBuffer: receiveBuffer,
                sendBuffer: 32 * 1024,
                groups: Self.groups,
                what: "rtnetlink monitor"
            )
        }
        try self.init(socket: socket, tapPrefix: tapPrefix)
    }

    private init(socket: LibnlSocket, tapPrefix: String) throws(HAVPNError) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            throw KernelErrors.error(KernelErrors.current, "cannot create a pipe", object: "rtnetlink monitor")
        }
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        // Non-blocking: the thread reads until nothing is queued, then waits in `poll` for the
        // socket or the wake pipe. An idle monitor does not wake at all.
        socket.setNonBlocking()
        wakeRead = ends[0]
        wakeWrite = ends[1]
        descriptor = socket.fd
        state = Mutex(State(socket: socket))
        self.tapPrefix = tapPrefix
    }

    deinit { close() }

    /// Calls `handler` from a dedicated thread (never the cooperative pool; a storm of route
    /// events is read there without pause and delays nothing else) for every event, until
    /// `close()`.
    public func start(_ handler: @escaping @Sendable (KernelEvent) -> Void) {
        guard let socket = state.withLock({ s in s.closed ? nil : s.socket.take() }) else { return }
        let tapPrefix = tapPrefix
        startThread(name: "havpn-netlink") { [self] in
            defer { stopped() }
            var fds = [
                pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            while !isClosed {
                switch socket.receive() {
                case .datagram(let buffer, let count):
                    var events: [KernelEvent] = []
                    NetlinkParse.forEachMessage(in: buffer, count: count) {
                        events += Self.classify($0, tapPrefix: tapPrefix)
                    }
                    free(buffer)
                    if isClosed { return }
                    for event in events { handler(event) }
                case .overflow:
                    handler(.overflow)
                case .timeout:
                    // Nothing queued: sleep until a datagram arrives or close() writes to the pipe.
                    fds[0].revents = 0
                    fds[1].revents = 0
                    state.withLock { $0.waiting = true }
                    _ = poll(&fds, 2, -1)
                    state.withLock { $0.waiting = false }
                case .failure(let code):
                    // EBADF and the like cannot heal; anything else is retried after a pause.
                    if code == EBADF || code == ENOTSOCK { return }
                    usleep(100_000)
                }
            }
        }
    }

    private var isClosed: Bool { state.withLock { $0.closed } }

    /// The receive thread waits in `poll` for a datagram or ``close()``.
    package var isWaiting: Bool { state.withLock { $0.waiting } }

    /// The receive thread's last step; its socket reference goes when the thread ends.
    private func stopped() {
        state.withLock { s in
            guard s.pipeOpen else { return }
            s.pipeOpen = false
            _ = Glibc.close(wakeRead)
            _ = Glibc.close(wakeWrite)
        }
    }

    /// Stops the receive thread at once (it is woken out of `poll`), which then releases the
    /// socket; without a started thread, releases it here.
    public func close() {
        let unstarted = state.withLock { s -> LibnlSocket? in
            guard !s.closed else { return nil }
            s.closed = true
            if s.socket == nil, s.pipeOpen {
                var one: UInt8 = 1
                _ = Glibc.write(wakeWrite, &one, 1)
            }
            return s.socket.take()
        }
        if unstarted != nil { stopped() }
    }

    /// Classifies each message of one datagram. Pure, so it is tested without a kernel.
    package static func parse(_ bytes: ArraySlice<UInt8>, tapPrefix: String? = nil) -> [KernelEvent] {
        var events: [KernelEvent] = []
        NetlinkParse.forEachMessage(in: bytes) { events += classify($0, tapPrefix: tapPrefix) }
        return events
    }

    static func classify(_ message: NetlinkMessage, tapPrefix: String?) -> [KernelEvent] {
        switch message.type {
        case Int(RTM_NEWLINK), Int(RTM_DELLINK):
            guard let tapPrefix, let name = linkName(message), name.hasPrefix(tapPrefix) else { return [.link] }
            let number = name.dropFirst(tapPrefix.count)
            return !number.isEmpty && number.allSatisfy(\.isNumber) ? [.link, .serverTap] : [.link]
        case Int(RTM_NEWADDR), Int(RTM_DELADDR):
            return [.address]
        case Int(RTM_NEWROUTE), Int(RTM_DELROUTE):
            guard let route = message.familyHeader(rtmsg.self), route.rtm_protocol == havpnRouteProtocol else {
                return []
            }
            return [.ownedRoute]
        default:
            return []
        }
    }

    private static func linkName(_ message: NetlinkMessage) -> String? {
        message.attributes(after: ifinfomsg.self, maxType: HAVPN_IFLA_MAX, policy: havpn_link_policy())?
            .string(Int(IFLA_IFNAME))
    }
}

/// Runs `body` on a new detached thread called `name` (15 bytes are kept): unnamed, it would take
/// the name of whichever thread started it (the kernel worker's, a cooperative-pool thread's).
func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Body: Sendable {
        let name: String
        let run: @Sendable () -> Void
        init(_ name: String, _ run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }
    let context = Unmanaged.passRetained(Body(name, body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                let bytes = Array(body.name.utf8.prefix(15))
                _ = write(fd, bytes, bytes.count)
                _ = close(fd)
            }
            body.run()
            return nil
        },
        context
    )
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
