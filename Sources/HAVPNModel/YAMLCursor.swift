import Yams

/// A YAML node together with where it is: its key path (`networks.shoot.pods[1]`) and its position in the
/// file. Every typed read either returns a value or throws an ``HAVPNError`` that points at this node.
struct YAMLCursor {
    let node: Node
    /// Dotted key path from the document root; empty for the root itself.
    let path: String
    let file: String

    var location: SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ code: HAVPNError.Code, _ message: String) -> HAVPNError {
        HAVPNError(code, message, location: location, keyPath: path)
    }

    func child(_ key: String, _ node: Node) -> YAMLCursor {
        YAMLCursor(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    // MARK: - Describing what was found

    /// What the node is, for "expected X, got Y" messages: `string "two"`, `integer 2`, `a list`.
    var found: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch tagName {
            case .null: return "null"
            case .bool: return "boolean \(scalar.string)"
            case .int: return "integer \(scalar.string)"
            case .float: return "number \(scalar.string)"
            case .str: return "string \"\(scalar.string)\""
            default: return "\(tagName.rawValue) \"\(scalar.string)\""
            }
        }
    }

    /// The resolved tag (plain scalars get one from their spelling: `2` is int, `two` is str).
    var tagName: Tag.Name { Self.tagName(of: node) }

    static func tagName(of node: Node) -> Tag.Name { Tag.Name(rawValue: node.tag.rawValue) }

    var isNull: Bool {
        if case .scalar = node, tagName == .null { return true }
        return false
    }

    private func wrongType(_ expected: String) -> HAVPNError {
        error(.wrongType, "expected \(expected), got \(found)")
    }

    // MARK: - Collections

    /// The mapping's entries in document order. Keys outside `allowedKeys` are rejected, naming the keys
    /// that are allowed, so a typo is reported instead of silently becoming a default.
    func mapping(allowedKeys: [String]) throws(HAVPNError) -> [(key: String, value: YAMLCursor)] {
        guard case .mapping(let mapping) = node else { throw wrongType("a mapping") }
        var entries: [(key: String, value: YAMLCursor)] = []
        for (keyNode, valueNode) in mapping {
            let keyCursor = YAMLCursor(node: keyNode, path: path, file: file)
            guard case .scalar(let scalar) = keyNode, YAMLCursor.tagName(of: keyNode) == .str else {
                throw keyCursor.error(.wrongType, "keys must be strings, got \(keyCursor.found)")
            }
            let key = scalar.string
            guard allowedKeys.contains(key) else {
                let allowed = allowedKeys.joined(separator: ", ")
                throw child(key, keyNode).error(.unknownKey, "unknown key \"\(key)\"; allowed keys: \(allowed)")
            }
            entries.append((key, child(key, valueNode)))
        }
        return entries
    }

    /// The value under `key` in an already-checked mapping, or a missing-key error pointing at the mapping.
    func required(_ key: String, in entries: [(key: String, value: YAMLCursor)]) throws(HAVPNError) -> YAMLCursor {
        guard let entry = entries.first(where: { $0.key == key }) else {
            throw error(.missingKey, "missing required key \"\(key)\"")
        }
        return entry.value
    }

    func sequence() throws(HAVPNError) -> [YAMLCursor] {
        guard case .sequence(let sequence) = node else { throw wrongType("a list") }
        return sequence.enumerated().map { index, element in
            YAMLCursor(node: element, path: "\(path)[\(index)]", file: file)
        }
    }

    /// A list of items, each read by `read`.
    func list<T>(_ read: (YAMLCursor) throws(HAVPNError) -> T) throws(HAVPNError) -> [T] {
        var items: [T] = []
        for element in try sequence() { items.append(try read(element)) }
        return items
    }

    // MARK: - Scalars

    /// A string scalar. Numbers, booleans and null are rejected rather than converted: `bond: 0` is more
    /// likely a mistake than a device called "0", and the user can quote it.
    func string() throws(HAVPNError) -> String {
        guard case .scalar(let scalar) = node, tagName == .str else { throw wrongType("a string") }
        return scalar.string
    }

    func nonEmptyString() throws(HAVPNError) -> String {
        let text = try string()
        guard !text.isEmpty else { throw error(.invalidValue, "must not be empty") }
        return text
    }

    /// A decimal integer within `range`. YAML 1.1's octal, hex and sexagesimal spellings are rejected
    /// because `010` meaning 8 is a trap.
    func int(in range: ClosedRange<Int>) throws(HAVPNError) -> Int {
        guard case .scalar(let scalar) = node, tagName == .int else { throw wrongType("an integer") }
        let text = scalar.string
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            digits == "0" || digits.first != "0"
        else {
            throw error(.invalidValue, "expected a decimal integer, got \"\(text)\"")
        }
        guard let value = Int(text), range.contains(value) else {
            throw error(.outOfRange, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func bool() throws(HAVPNError) -> Bool {
        guard tagName == .bool, let value = node.bool else { throw wrongType("a boolean") }
        return value
    }

    /// One of an enumeration's raw values.
    func oneOf<Value: RawRepresentable & CaseIterable>(_: Value.Type) throws(HAVPNError) -> Value
    where Value.RawValue == String {
        let text = try string()
        guard let value = Value(rawValue: text) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(.invalidValue, "\"\(text)\" is not one of: \(allowed)")
        }
        return value
    }

    /// A duration such as `200ms` or `1m30s`, at least `minimum`.
    func duration(minimum: Duration) throws(HAVPNError) -> Duration {
        let text = try string()
        guard let value = DurationText.parse(text) else {
            throw error(
                .invalidValue,
                "\"\(text)\" is not a duration; use digits with units h, m, s, ms in that order, e.g. 500ms, 2s, 1m30s"
            )
        }
        guard value >= minimum else {
            throw error(.outOfRange, "\(text) is below the minimum \(DurationText.format(minimum))")
        }
        return value
    }

    func address() throws(HAVPNError) -> IPAddress {
        let text = try string()
        guard let address = IPAddress(text) else {
            throw error(.invalidValue, "\"\(text)\" is not an IPv4 or IPv6 address")
        }
        return address
    }

    /// A network in CIDR form. Host bits must be zero: `10.1.0.5/16` is more likely a pasted pod IP than
    /// the network `10.1.0.0/16`, so the error says what the network address would be.
    func network() throws(HAVPNError) -> IPNetwork {
        let text = try string()
        if let network = IPNetwork(text) { return network }
        if let masked = IPNetwork(text, allowHostBits: true) {
            throw error(.invalidValue, "\(text) has host bits set; the network address is \(masked)")
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, let address = IPAddress(parts[0]) {
            throw error(
                .invalidValue,
                "\"\(text)\" has an invalid prefix length \"\(parts[1])\"; expected 0...\(address.bitWidth)"
            )
        }
        throw error(.invalidValue, "\"\(text)\" is not a network in CIDR form (address/prefix, e.g. 10.0.0.0/8)")
    }
}
