internal import CNftables
import Glibc
import HAVPNModel

/// Runs code with the calling thread inside a network namespace.
///
/// libnftables' netlink socket and the iptables-legacy-restore child both belong to the namespace
/// of the thread that opens or spawns them, so every firewall operation runs inside
/// ``enter(_:)``. (HAVPNNetlink has its own copy of this; the firewall target does not depend
/// on the netlink one so the two can change independently.)
final class FirewallNamespace {
    let fd: Int32
    let path: String

    /// `name`: a name under /run/netns, or an absolute path (/proc/PID/ns/net, /proc/self/fd/N).
    init(named name: String) throws(HAVPNError) {
        let path = name.hasPrefix("/") ? name : "/run/netns/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw HAVPNError(
                code == EACCES || code == EPERM ? .permission : .netns,
                "cannot open network namespace",
                object: "netns \(name)",
                errno: code,
                errnoText: String(cString: strerror(code))
            )
        }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    func enter<T>(_ body: () throws(HAVPNError) -> T) throws(HAVPNError) -> T {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else {
            throw HAVPNError(.netns, "cannot open the thread's own network namespace", errno: errno)
        }
        defer { close(original) }
        guard setns(fd, Int32(CLONE_NEWNET)) == 0 else {
            let code = errno
            throw HAVPNError(
                code == EPERM ? .permission : .netns,
                "cannot enter network namespace",
                object: "netns \(path)",
                errno: code,
                errnoText: String(cString: strerror(code))
            )
        }
        defer {
            // A thread left in the pod's namespace would act on the wrong pod later; not recoverable.
            if setns(original, Int32(CLONE_NEWNET)) != 0 {
                fatalError("havpn: cannot return to the original network namespace (errno \(errno))")
            }
        }
        return try body()
    }
}
