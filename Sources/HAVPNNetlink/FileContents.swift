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
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw failure(code, path: path, what: what, keyPath: keyPath)
            }
            bytes += chunk[0..<n]
            guard bytes.count <= limit else {
                throw HAVPNError(
                    .invalidValue,
                    "the \(what) is larger than \(limit) bytes",
                    keyPath: keyPath,
                    object: path
                )
            }
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
