import FoundationEssentials
import HAVPNPlanner
import Logging

/// One JSON object per line on stderr: `{"ts":…,"level":…,"label":…,"msg":…,<metadata>…}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = [
            ("ts", Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).format(Date())),
            ("level", "\(event.level)"), ("label", label), ("msg", "\(event.message)"),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for key in merged.keys.sorted() { fields.append((key, "\(merged[key]!)")) }
        let line = "{" + fields.map { "\(Self.quote($0.0)):\(Self.quote($0.1))" }.joined(separator: ",") + "}\n"
        writeStandardError(line)
    }

    static func quote(_ s: String) -> String { JSONValue.quote(s) }
}
