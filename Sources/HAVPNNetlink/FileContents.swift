import Glibc
import HAVPNModel

/// Whole-file reads for the files havpn is given (the topology, the announcement key): errors are
/// one `HAVPNError` line with the path and errno text, never a Foundation error dump.
public enum FileContents {
    /// The bytes of `path`. `what` names the file in the error ("topology file", ...); a file larger
    /// than `limit` bytes is refused (a wrong path, not a config).
    public static func read(
        _ path: String,
        what: String,
        keyPath: String? = nil,
        limit: Int = 64 << 20
    ) throws(HAVPNError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(errno, path: path, what: what, keyPath: keyPath) }
        defer { close(fd) }
        // Read into one buffer of the file's size (plus one byte, to see it end): a 136 KiB topology
        // grown chunk by chunk was three buffers and copies, and each fresh page is a page fault.
        // A file that grows meanwhile, or reports no size (/proc), makes the buffer double.
        precondition(limit >= 0 && limit < Int.max)
        func tooLarge() -> HAVPNError {
            HAVPNError(.invalidValue, "the \(what) is larger than \(limit) bytes", keyPath: keyPath, object: path)
        }
        var status = stat()
        let size = fstat(fd, &status) == 0 && status.st_mode & S_IFMT == S_IFREG ? Int(status.st_size) : 0
        guard size <= limit else { throw tooLarge() }
        var bytes = [UInt8](repeating: 0, count: min(max(size + 1, 4096), limit + 1))
        var filled = 0
        while true {
            if filled == bytes.count {
                guard filled <= limit else { throw tooLarge() }
                bytes += repeatElement(0, count: min(bytes.count, limit + 1 - bytes.count))
            }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n == 0 {
                bytes.removeLast(bytes.count - filled)
                return bytes
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure(code, path: path, what: what, keyPath: keyPath)
            }
            filled += n
        }
    }

    static func failure(_ code: Int32, path: String, what: String, keyPath: String?) -> HAVPNError {
        HAVPNError(
            .fileUnreadable,
            "cannot read the \(what)",
            keyPath: keyPath,
            object: path,
            errno: code,
            errnoText: String(cString: strerror(code))
        )
    }
}
