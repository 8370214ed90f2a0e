/// How havpn reads an unquoted YAML scalar. The key's schema decides the type; this only answers the two
/// questions a schema asks: "is this text null, a boolean or a number rather than a string?" (YAML 1.2's
/// core schema, so YAML 1.1's `no`, `on`, `0b1`, `1_000` are plain text) and "what integer or boolean is it?".
enum PlainScalar {
    enum Kind: Equatable { case null, bool, int, float, string }

    /// YAML 1.2 core schema resolution (yaml.org/spec/1.2.2, 10.3.2).
    static func kind(of text: String) -> Kind {
        // Every word below starts with one of these ASCII characters, and no other character is canonically
        // equivalent to one of them: anything else (an address, a name) skips the string comparisons.
        if let first = text.utf8.first, !isWordStart(first) {
            var text = text
            return text.withUTF8(kind(ofNumber:))
        }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "false", "False", "FALSE": return .bool
        case ".inf", "+.inf", "-.inf", ".Inf", "+.Inf", "-.Inf", ".INF", "+.INF", "-.INF", ".nan", ".NaN", ".NAN":
            return .float
        default: break
        }
        var text = text
        return text.withUTF8(kind(ofNumber:))
    }

    private static func isWordStart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "t"), UInt8(ascii: "T"),
            UInt8(ascii: "f"), UInt8(ascii: "F"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    private static func kind(ofNumber bytes: UnsafeBufferPointer<UInt8>) -> Kind {
        if isCoreInteger(bytes) { return .int }
        if isCoreFloat(bytes) { return .float }
        return .string
    }

    /// Text that someone meant as an integer in some notation (`0x10`, `010`, `1_000`, `1:30`, `+5`), so an
    /// integer key can say "expected a decimal integer" instead of "got a string".
    static func looksLikeInteger(_ text: String) -> Bool {
        var bytes = Substring(text).utf8[...]
        if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        guard let first = bytes.first, isDigit(first) else { return false }
        return bytes.allSatisfy(isIntegerNotation) && kind(of: text) != .float
    }

    /// The booleans a boolean key has always accepted (YAML 1.1's spellings included); nil for anything else.
    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    // MARK: - Core schema numbers

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// `[0-9a-fA-FxXoO_:]`
    private static func isIntegerNotation(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "o"), UInt8(ascii: "O"), UInt8(ascii: "_"),
            UInt8(ascii: ":"):
            true
        default: isHexDigit(byte)
        }
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    /// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
    private static func isCoreInteger(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            let digits = bytes[2...]
            if bytes[1] == UInt8(ascii: "o") {
                return digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }
            }
            if bytes[1] == UInt8(ascii: "x") { return digits.allSatisfy(isHexDigit) }
        }
        var digits = bytes[...]
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            digits = digits.dropFirst()
        }
        return !digits.isEmpty && digits.allSatisfy(isDigit)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isCoreFloat(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        func digitRun() -> Int {
            let start = i
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            return i - start
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        let whole = digitRun()
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let fraction = digitRun()
            guard whole > 0 || fraction > 0 else { return false }
        } else if whole == 0 {
            return false
        }
        if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            guard digitRun() > 0 else { return false }
        }
        return i == bytes.count
    }
}
