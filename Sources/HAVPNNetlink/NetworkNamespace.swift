internal import CNetlink
import Glibc
import HAVPNModel

/// An open handle on a network namespace.
///
/// Netlink sockets, /dev/net/tun file descriptors and /proc/sys/net files all belong to the
/// namespace of the thread that *opened* them, and keep it afterwards. So the client enters the
/// target namespace on the calling thread only around those opens (`withEntered`) and returns
/// at once; everything else runs in whatever namespace the thread is in. HAVPNFirewall enters
/// through the same handle (libnftables' socket, the iptables-legacy children).
public final class NetworkNamespace {
    let fd: Int32
    let name: String

    /// `name` is a name under /run/netns (as `ip netns add` creates it) or an absolute path such
    /// as /proc/PID/ns/net.
    package init(named name: String) throws(HAVPNError) {
        let path = name.hasPrefix("/") ? name : "/run/netns/\(name)"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = KernelErrors.current
            throw HAVPNError(
                code == EACCES || code == EPERM ? .permission : .netns,
                "cannot open network namespace",
                object: "netns \(name)",
                errno: code,
                errnoText: KernelErrors.text(code)
            )
        }
        self.fd = fd
        self.name = name
    }

    /// Takes over a duplicate of `fd` (the caller keeps its own).
    init(duplicating fd: Int32, name: String) throws(HAVPNError) {
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else {
            let code = KernelErrors.current
            throw HAVPNError(
                .netns,
                "cannot duplicate network namespace fd",
                object: "netns \(name)",
                errno: code,
                errnoText: KernelErrors.text(code)
            )
        }
        self.fd = copy
        self.name = name
    }

    deinit { close(fd) }

    /// Runs `body` with the calling thread inside this namespace, then moves the thread back.
    /// `body` must not suspend or hop threads (all of havpn's netlink code is blocking).
    package func withEntered<T>(_ body: () throws(HAVPNError) -> T) throws(HAVPNError) -> T {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else {
            let code = KernelErrors.current
            throw HAVPNError(
                .netns,
                "cannot open the thread's own network namespace",
                object: "netns \(name)",
                errno: code,
                errnoText: KernelErrors.text(code)
            )
        }
        defer { close(original) }
        guard setns(fd, Int32(CLONE_NEWNET)) == 0 else {
            let code = KernelErrors.current
            throw HAVPNError(
                code == EPERM ? .permission : .netns,
                "cannot enter network namespace",
                object: "netns \(name)",
                errno: code,
                errnoText: KernelErrors.text(code)
            )
        }
        defer {
            // Leaving the thread in the wrong namespace would make every later socket and file
            // on it act on the wrong pod; that is not recoverable.
            if setns(original, Int32(CLONE_NEWNET)) != 0 {
                fatalError("havpn: cannot return to the original network namespace (errno \(errno))")
            }
        }
        return try body()
    }
}

extension NetworkNamespace {
    /// Runs `body` with the calling thread inside the named namespace (nil: the current one).
    /// For opening sockets that must belong to a pod's namespace (probes, announcements, beacons).
    public static func run<T>(in name: String?, _ body: () throws(HAVPNError) -> T) throws(HAVPNError) -> T {
        guard let name else { return try body() }
        return try NetworkNamespace(named: name).withEntered(body)
    }
}

/// Runs `body` inside `namespace`, or in the thread's current namespace when it is nil.
package func inNamespace<T>(
    _ namespace: NetworkNamespace?,
    _ body: () throws(HAVPNError) -> T
) throws(HAVPNError) -> T {
    if let namespace { return try namespace.withEntered(body) }
    return try body()
}

extension NetworkNamespace {
    /// Makes a fresh, unnamed network namespace and returns an fd on it (the caller closes it;
    /// the namespace lives while some fd or socket refers to it). The calling thread unshares
    /// into it and returns to its own namespace at once. For tests: one namespace per test.
    package static func makeUnnamed() throws(HAVPNError) -> Int32 {
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else {
            throw KernelErrors.error(KernelErrors.current, "cannot open the thread's network namespace", object: nil)
        }
        defer { close(original) }
        guard unshare(Int32(CLONE_NEWNET)) == 0 else {
            throw KernelErrors.error(KernelErrors.current, "cannot create a network namespace", object: nil)
        }
        let fresh = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let openError = KernelErrors.current
        if setns(original, Int32(CLONE_NEWNET)) != 0 {
            fatalError("havpn: cannot return to the original network namespace (errno \(errno))")
        }
        guard fresh >= 0 else {
            throw KernelErrors.error(openError, "cannot open the new network namespace", object: nil)
        }
        return fresh
    }
}
