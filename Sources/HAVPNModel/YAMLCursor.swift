/// A YAML node together with where it is: its key path (`networks.shoot.pods[1]`) and its position in the
/// file. Every typed read either returns a value or throws an ``HAVPNError`` that points at this node.
///
/// The read decides the type, never the spelling alone: a plain `no` is the string "no" where a string is
/// expected, `0x10` is refused where an integer is expected, and quoted scalars are always strings.
struct YAMLCursor {
    let document: YAMLDocument
    let index: Int
    let file: String
    /// The parent's key path and the step from it: the path is spelled only when asked for (an error, a
    /// noted position), not for each of 10,000 list items.
    private let parentPath: String
    private let step: Step

    private enum Step {
        case none
        case key(String)
        case item(Int)
    }

    /// Dotted key path from the document root; empty for the root itself.
    var path: String {
        switch step {
        case .none: parentPath
        case .key(let key): parentPath.isEmpty ? key : "\(parentPath).\(key)"
        case .item(let position): "\(parentPath)[\(position)]"
        }
    }

    init(document: YAMLDocument, index: Int, path: String, file: String) {
        self.init(document: document, index: index, file: file, parentPath: path, step: .none)
    }

    private init(document: YAMLDocument, index: Int, file: String, parentPath: String, step: Step) {
        self.document = document
        self.index = index
        self.file = file
        self.parentPath = parentPath
        self.step = step
    }

    var node: YAMLDocument.Node { document[index] }

    /// The scalar's text; empty for a collection.
    var text: String { document.text(index) }

    var location: SourceLocation {
        let node = node
        return SourceLocation(file: file, line: node.line, column: node.column)
    }

    func error(_ code: HAVPNError.Code, _ message: String) -> HAVPNError {
        HAVPNError(code, message, location: location, keyPath: path)
    }

    func child(_ key: String, _ index: Int) -> YAMLCursor {
        YAMLCursor(document: document, index: index, file: file, parentPath: path, step: .key(key))
    }

    // MARK: - Describing what was found

    /// What the node is, for "expected X, got Y" messages: `string "two"`, `integer 2`, `a list`. A plain
    /// scalar is described as YAML 1.2's core schema would read it; that is only a description.
    var found: String {
        let node = node
        switch node.kind {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            let text = text
            guard node.isPlain else { return "string \"\(text)\"" }
            switch PlainScalar.kind(of: text) {
            case .null: return "null"
            case .bool: return "boolean \(text)"
            case .int: return "integer \(text)"
            case .float: return "number \(text)"
            case .string: return "string \"\(text)\""
            }
        }
    }

    /// A plain `null`, `~` or nothing at all; a quoted "null" is a string.
    var isNull: Bool {
        let node = node
        return node.kind == .scalar && node.isPlain && PlainScalar.kind(of: text) == .null
    }

    private func wrongType(_ expected: String) -> HAVPNError {
        error(.wrongType, "expected \(expected), got \(found)")
    }

    // MARK: - Collections

    /// The mapping's entries in document order. Keys outside `allowedKeys` are rejected, naming the keys
    /// that are allowed, so a typo is reported instead of silently becoming a default.
    func mapping(allowedKeys: [String]) throws(HAVPNError) -> [(key: String, value: YAMLCursor)] {
        guard node.kind == .mapping else { throw wrongType("a mapping") }
        var entries: [(key: String, value: YAMLCursor)] = []
        let pairs = document.children(of: index)
        let path = path
        for keyIndex in stride(from: pairs.startIndex, to: pairs.endIndex, by: 2) {
            let keyCursor = YAMLCursor(document: document, index: pairs[keyIndex], path: path, file: file)
            let keyNode = keyCursor.node
            guard keyNode.kind == .scalar, !keyNode.isPlain || PlainScalar.kind(of: keyCursor.text) == .string else {
                throw keyCursor.error(.wrongType, "keys must be strings, got \(keyCursor.found)")
            }
            let key = keyCursor.text
            guard allowedKeys.contains(key) else {
                let allowed = allowedKeys.joined(separator: ", ")
                throw child(key, keyCursor.index).error(
                    .unknownKey,
                    "unknown key \"\(key)\"; allowed keys: \(allowed)"
                )
            }
            entries.append(
                (
                    key,
                    YAMLCursor(
                        document: document,
                        index: pairs[keyIndex + 1],
                        file: file,
                        parentPath: path,
                        step: .key(key)
                    )
                )
            )
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
        guard node.kind == .sequence else { throw wrongType("a list") }
        let path = path
        return document.children(of: index).enumerated().map { position, element in
            YAMLCursor(document: document, index: element, file: file, parentPath: path, step: .item(position))
        }
    }

    /// A list of addresses, each read as ``address()`` reads one. IPv4 addresses are parsed from the node's
    /// bytes: 10,000 pod IPs get no cursor (two strings and a path step) and no string each. Any other item
    /// is read through its own cursor by ``address()``, which also throws its errors.
    func addresses() throws(HAVPNError) -> [IPAddress] {
        guard node.kind == .sequence else { throw wrongType("a list") }
        let items = document.children(of: index)
        var addresses: [IPAddress] = []
        addresses.reserveCapacity(items.count)
        // One pass over the node and text arrays as raw buffers: this loop runs once per pod IP.
        let read = document.nodes.withUnsafeBufferPointer { nodes in
            document.bytes.withUnsafeBufferPointer { bytes in
                Result { () throws(HAVPNError) in
                    for (position, element) in items.enumerated() {
                        let node = nodes[element]
                        // A dotted quad is never null, a boolean or a number (three dots), so a scalar that parses
                        // as one is the address `address()` would read, plain or quoted.
                        if node.kind == .scalar,
                            let v4 = IPv4Address.parse(UnsafeBufferPointer(rebasing: bytes[node.text]))
                        {
                            addresses.append(.v4(IPv4Address(v4)))
                        } else {
                            let item = YAMLCursor(
                                document: document,
                                index: element,
                                file: file,
                                parentPath: path,
                                step: .item(position)
                            )
                            addresses.append(try item.address())
                        }
                    }
                }
            }
        }
        try read.get()
        return addresses
    }

    /// A list of items, each read by `read`.
    func list<T>(_ read: (YAMLCursor) throws(HAVPNError) -> T) throws(HAVPNError) -> [T] {
        var items: [T] = []
        for element in try sequence() { items.append(try read(element)) }
        return items
    }

    // MARK: - Scalars

    /// A string scalar: quoted, or plain text that YAML 1.2 would not read as null, a boolean or a number.
    /// Those are rejected rather than converted: `bond: 0` is more likely a mistake than a device called
    /// "0", and the user can quote it. YAML 1.1's `no` or `on` is just text here.
    func string() throws(HAVPNError) -> String {
        let node = node
        let text = text
        guard node.kind == .scalar, !node.isPlain || PlainScalar.kind(of: text) == .string else {
            throw wrongType("a string")
        }
        return text
    }

    func nonEmptyString() throws(HAVPNError) -> String {
        let text = try string()
        guard !text.isEmpty else { throw error(.invalidValue, "must not be empty") }
        return text
    }

    /// A plain decimal integer within `range`. Octal, hex, binary, sexagesimal and `1_000` spellings are
    /// rejected because `010` meaning 8 is a trap; a quoted number is a string, as before.
    func int(in range: ClosedRange<Int>) throws(HAVPNError) -> Int {
        let node = node
        let text = text
        guard node.kind == .scalar, node.isPlain, PlainScalar.looksLikeInteger(text) else {
            throw wrongType("an integer")
        }
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            digits == "0" || digits.first != "0"
        else {
            throw error(.invalidValue, "expected a decimal integer, got \"\(text)\"")
        }
        guard let value = Int(text), range.contains(value) else {
            throw error(.outOfRange, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A plain boolean. Where the key expects one, YAML 1.1's `yes`/`no`/`on`/`off` are accepted as they
    /// always were; nowhere else do they mean anything but their text.
    func bool() throws(HAVPNError) -> Bool {
        let node = node
        guard node.kind == .scalar, node.isPlain, let value = PlainScalar.bool(text) else {
            throw wrongType("a boolean")
        }
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
