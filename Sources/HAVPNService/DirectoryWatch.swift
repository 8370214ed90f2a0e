import Glibc
import Synchronization

/// An inotify watch on the directory holding the topology file: a hint to re-check at once.
///
/// kubelet updates a ConfigMap volume by renaming a new `..data` symlink over the old one, inside
/// this directory; a watch on the file itself would go dead after the first swap. Events only say
/// "look again": the content comparison in ``ConfigWatcher`` decides, and polling stays the
/// correctness path (queue overflows, missed events, filesystems without inotify).
final class DirectoryWatch: Sendable {
    private let fd: Int32
    private struct Use {
        var closed = false
        /// The reader thread runs; it closes the descriptor when it ends, so that the number is
        /// never reused by another open while it still polls and reads it.
        var reading = false
    }
    private let use = Mutex(Use())

    /// nil when inotify is unavailable or the directory cannot be watched (polling still works).
    init?(directory: String) {
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            _ = Glibc.close(fd)
            return nil
        }
        self.fd = fd
    }

    deinit { close() }

    /// One element per batch of directory events, read on a dedicated thread.
    func events() -> AsyncStream<Void> {
        AsyncStream { continuation in
            use.withLock { $0.reading = !$0.closed }
            startThread(name: "havpn-config-inotify") { [self] in
                defer { finishReading() }
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !isClosed {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&p, 1, 1000) > 0 else { continue }
                    let n = read(fd, &buffer, buffer.count)
                    if n > 0 {
                        continuation.yield()
                    } else if n < 0 && errno != EINTR && errno != EAGAIN {
                        break
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in self.close() }
        }
    }

    private var isClosed: Bool { use.withLock { $0.closed } }

    /// Stops the watch; the reader (if any) notices within its 1 s poll and closes the descriptor.
    func close() {
        use.withLock { u in
            guard !u.closed else { return }
            u.closed = true
            if !u.reading { _ = Glibc.close(fd) }
        }
    }

    private func finishReading() {
        use.withLock { u in
            guard u.reading else { return }
            u.reading = false
            u.closed = true
            _ = Glibc.close(fd)
        }
    }
}
