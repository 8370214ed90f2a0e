internal import CNetlink
import Glibc
import HAVPNModel

/// Persistent taps. There is no netlink way to create one: /dev/net/tun creates the device in
/// the namespace of whoever *opened* the fd, so the open happens inside the target namespace.
/// TUNSETPERSIST keeps the device after the fd closes, for openvpn to attach to later.
enum TapDevice {
    static func create(name: String, in namespace: NetworkNamespace?) throws(HAVPNError) {
        let object = "link \(name)"
        let fd = try inNamespace(namespace) { () throws(HAVPNError) -> Int32 in
            let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                let code = KernelErrors.current
                if code == ENOENT || code == ENODEV || code == ENXIO {
                    throw HAVPNError(
                        .missingKernelFeature,
                        "/dev/net/tun is missing; load the tun module",
                        object: object,
                        errno: code,
                        errnoText: KernelErrors.text(code)
                    )
                }
                throw KernelErrors.error(code, "cannot open /dev/net/tun", object: object)
            }
            return fd
        }
        defer { close(fd) }
        let result = havpn_create_persistent_tap(fd, name)
        guard result == 0 else {
            // IFF_TUN_EXCL reports an existing device as EBUSY; say what it means.
            let code = -result == EBUSY ? EEXIST : -result
            throw KernelErrors.error(code, "cannot create tap link", object: object)
        }
    }
}
