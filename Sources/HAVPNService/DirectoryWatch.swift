import Glibc
import Synchronization

/// An inotify watch on the directory holding the topology file: a hint to re-check at once.
///
/// kubelet updates a ConfigMap volume by renaming a new `..data` symlink over the old one, inside
/// this directory; a watch on the file itself would go dead after the first swap. Events only say
/// "look again": the content comparison in ``ConfigWatcher`` decides, and polling stays the
/// correctness path (queue overflows, missed events, filesystems without inotify). The inotify
/// descriptor is read on the process's ``SocketReader`` thread, like the sockets.
final class DirectoryWatch: Sendable {
    private let descriptor: PosixSocket
    private let continuation = Mutex<AsyncStream<Void>.Continuation?>(nil)

    /// nil when inotify is unavailable or the directory cannot be watched (polling still works).
    init?(directory: String) {
        let fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
        guard fd >= 0 else { return nil }
        let mask = UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB)
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            _ = Glibc.close(fd)
            return nil
        }
        descriptor = PosixSocket(adopting: fd)
    }

    deinit { close() }

    /// One element per batch of directory events. One stream per watch.
    func events() -> AsyncStream<Void> {
        AsyncStream { continuation in
            self.continuation.withLock { $0 = continuation }
            let fd = descriptor.fd
            SocketReader.shared.add(descriptor) {
                var buffer = [UInt8](repeating: 0, count: 4096)
                if Glibc.read(fd, &buffer, buffer.count) > 0 { continuation.yield() }
            }
            continuation.onTermination = { _ in self.close() }
            if descriptor.isClosed { continuation.finish() }
        }
    }

    /// Stops the watch and ends its stream; the descriptor is released once the reader lets go of it.
    func close() {
        descriptor.close()
        // Finished outside the lock: finishing runs onTermination, which calls close() again.
        let ending = continuation.withLock { c in
            defer { c = nil }
            return c
        }
        ending?.finish()
    }
}
