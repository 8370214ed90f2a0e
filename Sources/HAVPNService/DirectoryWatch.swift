import Glibc

/// An inotify watch on the directory holding the topology file: a hint to re-check at once.
///
/// kubelet updates a ConfigMap volume by renaming a new `..data` symlink over the old one, inside
/// this directory; a watch on the file itself would go dead after the first swap. Events only say
/// "look again": the content comparison in ``ConfigWatcher`` decides, and polling stays the
/// correctness path (queue overflows, missed events, filesystems without inotify).
final class DirectoryWatch: @unchecked Sendable {
    // @unchecked: `fd` is immutable; `closed` and `reading` are guarded by `lock`.
    private let fd: Int32
    private let lock = PThreadMutex()
    private var closed = false
    /// The reader thread runs; it closes the descriptor when it ends, so that the number is
    /// never reused by another open while it still polls and reads it.
    private var reading = false

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
            lock.lock()
            reading = !closed
            lock.unlock()
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

    private var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return closed
    }

    /// Stops the watch; the reader (if any) notices within its 1 s poll and closes the descriptor.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        if !reading { _ = Glibc.close(fd) }
    }

    private func finishReading() {
        lock.lock()
        defer { lock.unlock() }
        guard reading else { return }
        reading = false
        closed = true
        _ = Glibc.close(fd)
    }
}
