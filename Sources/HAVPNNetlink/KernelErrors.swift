import Glibc
import HAVPNModel

/// Turns errnos into havpn's one error type. The pure core has no libc, so the strerror text is
/// filled in here.
enum KernelErrors {
    static func text(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// A failed system call or netlink request about `object` (e.g. `link bond0`).
    /// `kernelMessage` is the kernel's extended-ack text, when it gave one.
    static func error(
        _ code: Int32,
        _ what: String,
        object: String?,
        kernelMessage: String? = nil
    ) -> HAVPNError {
        var message = what
        if let kernelMessage, !kernelMessage.isEmpty { message += ": \(kernelMessage)" }
        let errorCode: HAVPNError.Code =
            switch code {
            case EPERM, EACCES, EROFS: .permission
            default: .kernel
            }
        return HAVPNError(errorCode, message, object: object, errno: code, errnoText: text(code))
    }

    /// Creating a link of a kind the kernel does not know (module missing and not autoloadable)
    /// fails with EOPNOTSUPP ("Unknown device type"); say which module is missing.
    static func linkCreation(
        _ code: Int32,
        kind: String,
        object: String,
        kernelMessage: String?
    ) -> HAVPNError {
        if code == EOPNOTSUPP, let module = kernelModule(forLinkKind: kind) {
            return HAVPNError(
                .missingKernelFeature,
                "the kernel cannot create \(kind) links; load the \(module) module",
                object: object,
                errno: code,
                errnoText: text(code)
            )
        }
        return error(code, "cannot create \(kind) link", object: object, kernelMessage: kernelMessage)
    }

    static func kernelModule(forLinkKind kind: String) -> String? {
        switch kind {
        case "bond": "bonding"
        case "ip6tnl": "ip6_tunnel"
        case "tap", "tun": "tun"
        default: nil
        }
    }

    /// The current errno as a positive value.
    static var current: Int32 { errno }
}
