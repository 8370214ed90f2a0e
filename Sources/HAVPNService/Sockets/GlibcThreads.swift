import FoundationEssentials
import Glibc

// What HAVPNService took from Foundation's Thread, NSLock and FileHandle, on Glibc directly: importing
// Foundation for them linked all of it, ICU's data included, into the static binary.

/// Runs `body` on a new detached thread called `name` (the kernel keeps 15 bytes of it).
func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            nameCurrentThread(start.name)
            start.body()
            return nil
        },
        start
    )
    precondition(result == 0, "cannot start thread \(name): pthread_create returned \(result)")
    pthread_detach(thread)
}

/// pthread_setname_np needs _GNU_SOURCE, which Swift's Glibc module does not set; its Linux
/// implementation writes this file.
private func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = Glibc.write(fd, bytes, bytes.count)
    _ = Glibc.close(fd)
}

/// Writes all of `text` to stderr in as few write(2) calls as the kernel allows (one, for a log line).
public func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// What a file operation's error says, without Foundation's localized text: the errno text when the
/// error carries one (`No such file or directory`).
public func fileErrorText(_ error: any Error) -> String {
    if let cocoa = error as? CocoaError {
        for case let posix as POSIXError in cocoa.userInfo.values {
            return String(cString: strerror(posix.code.rawValue))
        }
    }
    if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
    return "\(error)"
}
