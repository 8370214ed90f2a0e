/// What the kernel accepts as a network interface name (`dev_valid_name` in net/core/dev.c), checked before
/// anything is created so a bad name fails at load time with its position in the file.
public enum DeviceNameRules {
    /// IFNAMSIZ is 16 including the terminating NUL.
    public static let maximumLength = 15

    /// Why `name` cannot be an interface name, or nil when it can. Length is checked separately because
    /// prefixes are checked with their longest generated suffix.
    public static func characterProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name == "." || name == ".." { return "\"\(name)\" is reserved" }
        if name.unicodeScalars.contains(where: { $0 == "/" || $0 == ":" || $0.properties.isWhitespace }) {
            return "\"\(name)\" contains '/', ':' or whitespace, which interface names cannot"
        }
        return nil
    }

    /// Reads a device name or name prefix. `longestSuffix` is the longest thing havpn appends to it
    /// (`7` for taps and apiserver tunnels, `ffff` for shoot tunnels, nothing for the bond).
    static func read(_ cursor: YAMLCursor, longestSuffix: String) throws(HAVPNError) -> String {
        let name = try cursor.string()
        if let problem = characterProblem(name) { throw cursor.error(.invalidValue, problem) }
        let longest = name + longestSuffix
        guard longest.utf8.count <= maximumLength else {
            let what = longestSuffix.isEmpty ? "\"\(name)\"" : "\"\(name)\" + \"\(longestSuffix)\" = \"\(longest)\""
            throw cursor.error(
                .nameTooLong,
                "\(what) is \(longest.utf8.count) bytes; interface names are at most \(maximumLength) bytes (IFNAMSIZ-1)"
            )
        }
        return name
    }
}
