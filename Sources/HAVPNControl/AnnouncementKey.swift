/// The shared HMAC key of announcements (`announcements.keyFile`).
///
/// Its bytes are secret: every way Swift turns a value into text (`description`, `debugDescription`,
/// string interpolation, `dump`, `Mirror`, and so the reflection-based descriptions of the structs
/// that hold it, which ServiceLifecycle logs at debug level) shows `<redacted>` and the length only.
/// The bytes are reachable only through ``bytes``, where the codec needs them.
public struct AnnouncementKey: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The raw key, for the HMAC only.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var description: String { "<redacted \(bytes.count)-byte key>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
