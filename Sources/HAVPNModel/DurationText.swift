/// The topology file's duration syntax: one or more `<digits><unit>` terms, units `h`, `m`, `s`, `ms`.
///
/// Examples: `500ms`, `2s`, `10m`, `1h`, `1m30s`. Units must appear in decreasing order and at most once
/// (`1s1m` and `1s2s` are rejected) so every duration has one obvious spelling. The schema's pattern
/// (`schemas/topology.v1.schema.json`) accepts exactly the same strings.
public enum DurationText {
    /// Units in the order they must appear, with their length in milliseconds.
    private static let units: [(name: String, milliseconds: Int64)] = [
        ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Parses `text`, or returns nil when it is not a duration. Zero (`0s`) parses; callers decide
    /// whether zero is allowed.
    public static func parse(_ text: String) -> Duration? {
        let chars = Array(text.utf8)
        guard !chars.isEmpty else { return nil }
        var index = 0
        var total: Int64 = 0
        var nextAllowedUnit = 0
        while index < chars.count {
            var number: Int64 = 0
            let digitsStart = index
            while index < chars.count, chars[index] >= UInt8(ascii: "0"), chars[index] <= UInt8(ascii: "9") {
                let (times10, o1) = number.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(chars[index] - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                number = sum
                index += 1
            }
            guard index > digitsStart else { return nil }
            let unitStart = index
            while index < chars.count, chars[index] >= UInt8(ascii: "a"), chars[index] <= UInt8(ascii: "z") {
                index += 1
            }
            let unit = String(decoding: chars[unitStart..<index], as: UTF8.self)
            guard let position = units.firstIndex(where: { $0.name == unit }), position >= nextAllowedUnit else {
                return nil
            }
            nextAllowedUnit = position + 1
            let (scaled, o3) = number.multipliedReportingOverflow(by: units[position].milliseconds)
            let (sum, o4) = total.addingReportingOverflow(scaled)
            guard !o3, !o4 else { return nil }
            total = sum
        }
        return .milliseconds(total)
    }

    /// The shortest spelling of `duration` in this syntax, e.g. `1m30s`, `200ms`, `0s`.
    /// Sub-millisecond parts are dropped (the syntax cannot express them).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var remaining = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if remaining == 0 { return "0s" }
        var text = remaining < 0 ? "-" : ""
        remaining = abs(remaining)
        for unit in units where remaining >= unit.milliseconds {
            text += "\(remaining / unit.milliseconds)\(unit.name)"
            remaining %= unit.milliseconds
        }
        return text
    }
}
