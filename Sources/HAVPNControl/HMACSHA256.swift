import Crypto

/// HMAC-SHA256 (RFC 2104) for announcements, through swift-crypto: security code from a maintained,
/// reviewed library (BoringSSL's SHA-256 on Linux) instead of written here.
public enum HMACSHA256 {
    public static func authenticationCode(for message: some Sequence<UInt8>, key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message), using: SymmetricKey(data: key)))
    }

    /// Compares a received tag with the expected one in time independent of where they differ
    /// (swift-crypto's constant-time comparison); a tag of the wrong length is invalid.
    public static func isValid(
        authenticationCode tag: some Collection<UInt8>,
        for message: some Sequence<UInt8>,
        key: [UInt8]
    ) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(
            Array(tag),
            authenticating: Array(message),
            using: SymmetricKey(data: key)
        )
    }
}
