import Glibc
import Synchronization

/// One thread that waits on the receive descriptors swift-nio cannot hold at once (`poll`) and runs
/// a descriptor's reader when it is readable: the beacon socket of every tap (AF_PACKET: NIO's
/// datagram channel knows only IP and Unix addresses, and its reader converts every sender address)
/// and the topology directory's inotify watch (not a socket). The ICMPv6 prober and the
/// announcement socket are NIO datagram channels (``DatagramChannelSocket``).
///
/// It replaces a thread per descriptor, each of which woke every second from a receive timeout
/// only to notice whether it had been stopped. Here an idle side-car does not wake at all: closing
/// a descriptor (``PosixSocket/close()``) writes a byte to a pipe, which ends the current `poll`, and
/// the next round leaves the closed descriptor out. Each registered descriptor is held in use (see
/// ``PosixSocket``) only for the round it is polled in, so its number is released once, after the
/// round, and never reused under a running `poll` or `recv`.
///
/// Readers run on this thread one after another and must not block: they receive with
/// `MSG_DONTWAIT` (one datagram each; `poll` reports the descriptor again while more are queued)
/// and hand what they read on without waiting (an inbox post, a stream yield).
final class SocketReader: Sendable {
    static let shared = SocketReader()

    private struct Registration {
        let socket: PosixSocket
        let read: @Sendable () -> Void
    }
    private struct State {
        var registrations: [Registration] = []
        var running = false
    }
    private let state = Mutex(State())
    /// A pipe whose write end ends a `poll` early: a registration was added or a descriptor closed.
    /// (Glibc's module does not import <sys/eventfd.h>.)
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        var ends: [Int32] = [0, 0]
        precondition(pipe(&ends) == 0, "cannot create the socket reader's pipe: errno \(errno)")
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
    }

    /// Calls `read` on the reader thread whenever `socket` is readable, until it is closed.
    func add(_ socket: PosixSocket, read: @escaping @Sendable () -> Void) {
        let start = state.withLock { s in
            s.registrations.append(Registration(socket: socket, read: read))
            defer { s.running = true }
            return !s.running
        }
        if start { startThread(name: "havpn-sockets") { self.run() } }
        wake()
    }

    /// Makes the reader look at its registrations again (one was added or closed).
    func wake() {
        var one: UInt8 = 1
        _ = Glibc.write(wakeWrite, &one, 1)  // a full pipe already wakes the reader
    }

    private func run() {
        var drain = [UInt8](repeating: 0, count: 256)
        while true {
            let round = state.withLock { s in
                s.registrations.removeAll { $0.socket.isClosed }
                return s.registrations
            }
            let held = round.filter { $0.socket.acquire() }
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            fds += held.map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), -1) > 0 {
                if fds[0].revents != 0 { while Glibc.read(wakeRead, &drain, drain.count) > 0 {} }
                for (i, registration) in held.enumerated() where fds[i + 1].revents != 0 {
                    registration.read()
                }
            }
            for registration in held { registration.socket.release() }
        }
    }
}
