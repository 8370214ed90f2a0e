import CSplice
import Glibc
import HAVPNControl
import NIOCore

/// One connection of the plain proxy, from accept to close; owned by the ``SpliceLoop`` thread.
final class SpliceConnection {
    enum Phase {
        /// Reading the request head into `head`.
        case head
        /// The target's non-blocking connect is under way; the bytes after the head wait in `head`.
        case dialing(ConnectTarget, started: UInt64)
        case relaying
        /// A refusal or failure is being written; the client's bytes are read and dropped until it
        /// closes or `linger` ends (closing with unread bytes would reset the answer away).
        case answering
    }

    let client: Int32
    var target: Int32 = -1
    var phase = Phase.head
    var head: [UInt8] = []
    /// When the current phase ends (head, connect and linger timeouts); relaying uses `lastActivity`.
    var deadline: UInt64
    var lastActivity: UInt64 = 0
    var toTarget = SpliceDirection()
    var toClient = SpliceDirection()
    var holdsTunnel = false
    /// What each socket is registered for in epoll now (0: not registered).
    var clientEvents: UInt32 = 0
    var targetEvents: UInt32 = 0

    init(client: Int32, deadline: UInt64) {
        self.client = client
        self.deadline = deadline
    }
}

/// The relay thread's loop: epoll over the listener, the wake eventfd and every connection's sockets,
/// level-triggered; deadlines are checked when the earliest one is due.
///
/// A descriptor closed while a batch of events is handled is closed only after the batch, so a later
/// event of the batch cannot reach a connection that got the same number from accept.
final class SpliceLoop {
    let proxy: SpliceProxy
    let settings: SpliceSettings
    var byDescriptor: [Int32: SpliceConnection] = [:]
    var connections: [Int32: SpliceConnection] = [:]  // by client descriptor
    var toClose: [Int32] = []
    var now: UInt64 = 0
    /// When the earliest deadline may be due (`.max`: none).
    var nextCheck = UInt64.max
    /// Accepting pauses for a moment when the process is out of descriptors (level-triggered epoll
    /// would report the listener again at once, forever).
    var acceptPausedUntil: UInt64?
    var scratch = [UInt8](repeating: 0, count: 16384)

    init(proxy: SpliceProxy) {
        self.proxy = proxy
        settings = proxy.settings
    }

    func run() {
        var fds = [Int32](repeating: 0, count: 256)
        var events = [UInt32](repeating: 0, count: 256)
        while !proxy.stopping.load(ordering: .sequentiallyConsistent) {
            now = NIODeadline.now().uptimeNanoseconds
            let count = csplice_epoll_wait(proxy.epoll, &fds, &events, 256, timeoutMilliseconds())
            now = NIODeadline.now().uptimeNanoseconds
            if count > 0 {
                for index in 0..<Int(count) { handle(fds[index], events[index]) }
            }
            checkDeadlines()
            closePending()
        }
        for connection in Array(connections.values) { close(connection) }
        closePending()
    }

    private func timeoutMilliseconds() -> Int32 {
        let next = min(nextCheck, acceptPausedUntil ?? .max)
        guard next != .max else { return -1 }
        guard next > now else { return 0 }
        return Int32(clamping: (next - now + 999_999) / 1_000_000)
    }

    private func handle(_ fd: Int32, _ events: UInt32) {
        if fd == proxy.wake {
            var value: UInt64 = 0
            _ = Glibc.read(fd, &value, 8)
        } else if fd == proxy.listener {
            accept()
        } else if let connection = byDescriptor[fd] {
            handle(connection, isClient: fd == connection.client, events: events)
        }
    }

    // MARK: - Accepting

    private func accept() {
        for _ in 0..<64 {
            let fd = csplice_accept(proxy.listener)
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM {
                    settings.logger.warning("CONNECT proxy cannot accept", metadata: ["errno": "\(errno)"])
                    _ = csplice_epoll_ctl(proxy.epoll, 2, proxy.listener, 0)
                    acceptPausedUntil = now + 100_000_000
                }
                return
            }
            opened(1)
            guard settings.connections.admitRaw() else {  // shutting down
                discard(fd)
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let connection = SpliceConnection(client: fd, deadline: now + settings.timings.head.nanoseconds.asUInt64)
            connections[fd] = connection
            byDescriptor[fd] = connection
            schedule(connection.deadline)
            register(connection, client: UInt32(CSPLICE_EPOLLIN), target: 0)
        }
    }

    // MARK: - Bookkeeping

    func schedule(_ deadline: UInt64) { nextCheck = min(nextCheck, deadline) }

    func opened(_ count: Int) { proxy.descriptors.add(count, ordering: .relaxed) }

    /// Closes `fd` after the current batch of events.
    func discard(_ fd: Int32) {
        guard fd >= 0 else { return }
        toClose.append(fd)
    }

    private func closePending() {
        for fd in toClose { Glibc.close(fd) }
        proxy.descriptors.subtract(toClose.count, ordering: .relaxed)
        toClose.removeAll(keepingCapacity: true)
    }

    /// Sets what epoll reports for the connection's sockets. A socket with nothing to wait for is out of
    /// the set: epoll reports hang-ups even without interest, and level-triggered that would spin.
    func register(_ connection: SpliceConnection, client: UInt32, target: UInt32) {
        connection.clientEvents = update(connection.client, from: connection.clientEvents, to: client)
        if connection.target >= 0 {
            connection.targetEvents = update(connection.target, from: connection.targetEvents, to: target)
        }
    }

    private func update(_ fd: Int32, from old: UInt32, to new: UInt32) -> UInt32 {
        guard old != new else { return new }
        let operation: Int32 = old == 0 ? 1 : new == 0 ? 2 : 3  // add, delete, modify
        _ = csplice_epoll_ctl(proxy.epoll, operation, fd, new)
        return new
    }

    /// Closes every descriptor of `connection` and gives its tunnel slot back.
    func close(_ connection: SpliceConnection) {
        guard connections.removeValue(forKey: connection.client) != nil else { return }
        byDescriptor[connection.client] = nil
        discard(connection.client)
        if connection.target >= 0 {
            byDescriptor[connection.target] = nil
            discard(connection.target)
        }
        for fd in connection.toTarget.descriptors + connection.toClient.descriptors { discard(fd) }
        if connection.holdsTunnel { settings.connections.releaseTunnel() }
        settings.connections.leaveRaw()
    }

    // MARK: - Deadlines

    private func checkDeadlines() {
        if let paused = acceptPausedUntil, paused <= now {
            acceptPausedUntil = nil
            _ = csplice_epoll_ctl(proxy.epoll, 1, proxy.listener, UInt32(CSPLICE_EPOLLIN))
        }
        guard nextCheck <= now else { return }
        nextCheck = .max
        let idle = settings.timings.idle.nanoseconds.asUInt64
        for connection in Array(connections.values) {
            let due: UInt64
            if case .relaying = connection.phase {
                due = connection.lastActivity + idle
            } else {
                due = connection.deadline
            }
            if due <= now {
                expire(connection)
            } else {
                schedule(due)
            }
        }
    }
}

extension Int64 {
    /// A non-negative nanosecond count as the loop's clock type.
    var asUInt64: UInt64 { UInt64(clamping: self) }
}
