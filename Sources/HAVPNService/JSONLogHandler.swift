import FoundationEssentials
import HAVPNPlanner
import Logging

/// What havpn's two log handlers share: one line on stderr per event, from the handler's metadata
/// merged with the event's (the event's value wins for a key both have).
public protocol StandardErrorLogHandler: LogHandler {
    /// The event's line, without the line break; `metadata`: the handler's merged with the event's.
    func line(for event: LogEvent, metadata: Logger.Metadata) -> String
}

extension StandardErrorLogHandler {
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        writeStandardError(line(for: event, metadata: metadata.merging(event.metadata ?? [:]) { $1 }) + "\n")
    }
}

/// One JSON object per line on stderr: `{"ts":…,"level":…,"label":…,"msg":…,<metadata>…}`.
///
/// Values keep their type: a metadata value given as a number, a boolean or a `Duration` (in
/// seconds) is a JSON number or boolean, lists and dictionaries are arrays and objects, and
/// everything else is a string. The timestamp is UTC with milliseconds.
public struct JSONLogHandler: StandardErrorLogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public func line(for event: LogEvent, metadata merged: Logger.Metadata) -> String {
        var fields: [(String, String)] = [
            ("ts", Self.quote(LogTimestamp.now())),
            ("level", Self.quote("\(event.level)")), ("label", Self.quote(label)),
            ("msg", Self.quote("\(event.message)")),
        ]
        for key in merged.keys.sorted() { fields.append((key, Self.json(merged[key]!))) }
        return "{" + fields.map { "\(Self.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func quote(_ s: String) -> String { JSONValue.quote(s) }

    /// The JSON text of one metadata value, typed as described on the type.
    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): quote(s)
        case .array(let items): "[" + items.map(json).joined(separator: ",") + "]"
        case .dictionary(let d):
            "{" + d.keys.sorted().map { quote($0) + ":" + json(d[$0]!) }.joined(separator: ",") + "}"
        case .stringConvertible(let v):
            switch v {
            case let b as Bool: b ? "true" : "false"
            case let i as any BinaryInteger: "\(i)"
            case let d as Double where d.isFinite: "\(d)"
            case let f as Float where f.isFinite: "\(f)"
            case let duration as Duration: "\(duration.secondsValue)"
            default: quote(v.description)
            }
        }
    }
}

/// Human log lines on stderr with millisecond timestamps (swift-log's stream handler prints whole
/// seconds): `2026-11-28T23:15:07.123Z notice havpn: message key=value ...`.
public struct HumanLogHandler: StandardErrorLogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public func line(for event: LogEvent, metadata merged: Logger.Metadata) -> String {
        var line = "\(LogTimestamp.now()) \(event.level) \(label): \(event.message)"
        for key in merged.keys.sorted() { line += " \(key)=\(merged[key]!)" }
        return line
    }
}

enum LogTimestamp {
    static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
    static func now() -> String { style.format(Date()) }
}

extension Duration {
    /// The duration in seconds, as a number for logs and JSON.
    public var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
