import Glibc
import HAVPNModel

/// Network-namespace sysctls through /proc/sys. /proc/sys/net shows the namespace of the thread
/// that opens the file, so files are opened (and used) inside the target namespace.
enum Sysctl {
    /// `net.ipv4.conf.all.rp_filter` → `/proc/sys/net/ipv4/conf/all/rp_filter`.
    static func path(_ key: String) -> String {
        "/proc/sys/" + key.replacingDots()
    }

    /// Values of the keys that exist; missing keys (module not loaded) are left out.
    /// Whitespace runs collapse to one space: multi-value sysctls (tcp_rmem) are tab-separated.
    static func read(_ keys: [String], in namespace: NetworkNamespace?) throws(HAVPNError) -> [String: String] {
        guard !keys.isEmpty else { return [:] }
        return try inNamespace(namespace) { () throws(HAVPNError) -> [String: String] in
            var values: [String: String] = [:]
            for key in keys {
                let fd = open(path(key), O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    let code = KernelErrors.current
                    if code == ENOENT { continue }
                    throw KernelErrors.error(code, "cannot read sysctl", object: "sysctl \(key)")
                }
                defer { close(fd) }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                guard count >= 0 else {
                    throw KernelErrors.error(KernelErrors.current, "cannot read sysctl", object: "sysctl \(key)")
                }
                values[key] = normalized(String(decoding: buffer[0..<count], as: UTF8.self))
            }
            return values
        }
    }

    static func write(_ key: String, _ value: String, in namespace: NetworkNamespace?) throws(HAVPNError) {
        let object = "sysctl \(key)"
        try inNamespace(namespace) { () throws(HAVPNError) in
            let fd = open(path(key), O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = KernelErrors.current
                if code == ENOENT {
                    throw HAVPNError(
                        .missingKernelFeature,
                        "sysctl does not exist (its module is not loaded?)",
                        object: object,
                        errno: code,
                        errnoText: KernelErrors.text(code)
                    )
                }
                throw KernelErrors.error(code, "cannot write sysctl", object: object)
            }
            defer { close(fd) }
            let bytes = Array((value + "\n").utf8)
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            // Not `== bytes.count`: some handlers report something else on success, e.g. writing
            // net.ipv6.conf.*.forwarding returns 1 (addrconf_fixup_forwarding's "changed").
            guard written > 0 else {
                throw KernelErrors.error(
                    written < 0 ? KernelErrors.current : EIO,
                    "cannot write sysctl value \(value)",
                    object: object
                )
            }
        }
    }

    static func normalized(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }
}

extension String {
    fileprivate func replacingDots() -> String {
        String(map { $0 == "." ? "/" : $0 })
    }
}
