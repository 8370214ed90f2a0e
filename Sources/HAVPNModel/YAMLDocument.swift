private import CYAML

/// One YAML document as a tree of marked nodes, built from libyaml's event parser.
///
/// The tree keeps what the strict decoder needs and nothing YAML would guess: a scalar is its text plus
/// whether it was written plain (so the key's schema decides what `no` or `0x10` is) or quoted (always a
/// string). Nodes live in one flat array and refer to their children by index, so a 10,000-address list is
/// two arrays, not 10,000 objects, and an alias is just a second reference to its anchor's node.
final class YAMLDocument {
    struct Node {
        enum Kind: UInt8 { case scalar, sequence, mapping }

        var kind: Kind
        /// Plain and untagged: the schema types it. Quoted, block and `!!str` scalars are strings.
        var isPlain: Bool
        // 32-bit fields: 28 bytes a node instead of 64, which 10,000 pod IPs feel as page faults. The file is
        // at most 16 MiB (`maximumBytes`), so no line, column or offset comes near 2^31.
        private var line32: Int32
        private var column32: Int32
        private var textBounds: (lower: UInt32, upper: UInt32)
        private var childBounds: (lower: UInt32, upper: UInt32)

        init(kind: Kind, line: Int, column: Int, text: Range<Int>, isPlain: Bool, children: Range<Int>) {
            self.kind = kind
            self.isPlain = isPlain
            line32 = Int32(line)
            column32 = Int32(column)
            textBounds = (UInt32(text.lowerBound), UInt32(text.upperBound))
            childBounds = (UInt32(children.lowerBound), UInt32(children.upperBound))
        }

        /// 1-based, columns in Unicode scalars (libyaml's count).
        var line: Int { Int(line32) }
        var column: Int { Int(column32) }
        /// Where the scalar's text is in `YAMLDocument.bytes`; empty for collections. No `String` per node:
        /// 10,000 pod IPs are read from these bytes and never become strings.
        var text: Range<Int> { Int(textBounds.lower)..<Int(textBounds.upper) }
        /// The collection's children in `YAMLDocument.children`; a mapping's alternate key, value.
        var children: Range<Int> {
            get { Int(childBounds.lower)..<Int(childBounds.upper) }
            set { childBounds = (UInt32(newValue.lowerBound), UInt32(newValue.upperBound)) }
        }
    }

    let nodes: [Node]
    let children: [Int]
    /// Every scalar's text (UTF-8, as libyaml decoded it), one after another.
    let bytes: [UInt8]
    let root: Int

    subscript(index: Int) -> Node { nodes[index] }

    /// The text of the scalar at `index`; empty for collections.
    func text(_ index: Int) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: $0[nodes[index].text], as: UTF8.self) }
    }

    /// The text of the scalar at `index` as bytes, without making a string.
    func withText<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[nodes[index].text])) }
    }

    func children(of index: Int) -> ArraySlice<Int> { children[nodes[index].children] }

    /// Deeper documents are rejected: the schema is five levels deep, and a bounded depth keeps a hostile
    /// `[[[[…` from costing more than its bytes.
    static let maximumDepth = 64
    /// What aliases may add to the tree, counted in expanded nodes: the cap that stops "billion laughs".
    static let maximumAliasExpansion = 100_000
    /// Far above any real topology (10,000 pod IPs are about 200 KB), far below what would strain a pod.
    static let maximumBytes = 16 << 20

    /// Parses `yaml`, which must hold at most one document. Returns nil for a stream with no document at
    /// all (only comments or nothing).
    static func parse(_ yaml: String, file: String) throws(HAVPNError) -> YAMLDocument? {
        var text = yaml
        return try text.withUTF8 { bytes in Result { () throws(HAVPNError) in try parse(bytes, file: file) } }.get()
    }

    /// ``parse(_:file:)`` of the file's bytes as read, with no `String` made of them first: that would be
    /// a second copy of the file, and it would turn invalid UTF-8 into U+FFFD silently, where libyaml's
    /// reader rejects it with its position.
    static func parse(_ yaml: UnsafeBufferPointer<UInt8>, file: String) throws(HAVPNError) -> YAMLDocument? {
        guard yaml.count <= maximumBytes else {
            throw HAVPNError(
                .yamlSyntax,
                "the file is \(yaml.count) bytes; a topology file is at most \(maximumBytes) bytes",
                location: SourceLocation(file: file, line: 1, column: 1)
            )
        }
        var builder = YAMLTreeBuilder(yaml: yaml, file: file)
        return try builder.build()
    }

    fileprivate init(nodes: [Node], children: [Int], bytes: [UInt8], root: Int) {
        self.nodes = nodes
        self.children = children
        self.bytes = bytes
        self.root = root
    }
}

/// Feeds libyaml's events into node and child arrays. Collections are built with an explicit stack, not
/// recursion, so nesting costs heap, and the depth cap keeps even that small.
private struct YAMLTreeBuilder {
    let yaml: UnsafeBufferPointer<UInt8>
    let file: String

    private struct OpenCollection {
        var node: Int
        var anchor: String?
        /// Key texts seen so far (mappings only), for the duplicate-key check.
        var keys: [String: Int] = [:]
        /// The enclosing collection's ``Innermost`` while this one is open.
        var outer: Innermost
    }

    /// What every item of the innermost open collection updates, kept out of `stack` (whose elements hold a
    /// string and a dictionary): attaching one of 10,000 pod IPs touches only these three values.
    private struct Innermost {
        var isMapping = false
        /// Where the collection's items start in `pending`.
        var firstItem = 0
        var expansion = 1
    }

    private var nodes: [YAMLDocument.Node] = []
    private var children: [Int] = []
    private var bytes: [UInt8] = []
    /// Each anchor's node and the nodes it stands for once aliases are expanded (an alias adds that many).
    private var anchors: [String: (node: Int, expansion: Int)] = [:]
    private var aliasExpansion = 0
    private var stack: [OpenCollection] = []
    /// The innermost open collection's counters (meaningless while `stack` is empty).
    private var innermost = Innermost()
    /// The items of every open collection, innermost last: one array for all, not one per collection.
    private var pending: [Int] = []
    private var root: Int?

    init(yaml: UnsafeBufferPointer<UInt8>, file: String) {
        self.yaml = yaml
        self.file = file
    }

    mutating func build() throws(HAVPNError) -> YAMLDocument? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw HAVPNError(.yamlSyntax, "libyaml could not allocate its parser", location: at(line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, yaml.baseAddress, yaml.count)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        // About one node per dozen bytes in a list of addresses; capped, so a file of comments reserves little.
        let expectedNodes = min(yaml.count / 12, 1 << 16)
        nodes.reserveCapacity(expectedNodes)
        children.reserveCapacity(expectedNodes)
        bytes.reserveCapacity(min(yaml.count, 1 << 20))

        var documents = 0
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { throw parseError(parser) }
            defer { yaml_event_delete(&event) }
            let mark = event.start_mark
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return root.map { YAMLDocument(nodes: nodes, children: children, bytes: bytes, root: $0) }
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                guard documents == 1 else {
                    throw HAVPNError(
                        .yamlSyntax,
                        "found a second YAML document; a topology file holds exactly one",
                        location: at(mark)
                    )
                }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let tag = try checkedTag(scalar.tag, allowed: "tag:yaml.org,2002:str", mark)
                let node = YAMLDocument.Node(
                    kind: .scalar,
                    line: Int(mark.line) + 1,
                    column: Int(mark.column) + 1,
                    text: append(scalar.value, count: scalar.length),
                    isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == nil,
                    children: 0..<0
                )
                try add(node, expansion: 1, anchor: optionalString(scalar.anchor), mark)
            case YAML_ALIAS_EVENT:
                let name = optionalString(event.data.alias.anchor) ?? ""
                guard let (target, size) = anchors[name] else {
                    throw HAVPNError(.yamlSyntax, "found undefined alias \"*\(name)\"", location: at(mark))
                }
                aliasExpansion += size
                guard aliasExpansion <= YAMLDocument.maximumAliasExpansion else {
                    throw HAVPNError(
                        .yamlSyntax,
                        "aliases expand to more than \(YAMLDocument.maximumAliasExpansion) nodes; write the values out",
                        location: at(mark)
                    )
                }
                try attach(target, expansion: size, mark)
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                _ = try checkedTag(start.tag, allowed: "tag:yaml.org,2002:seq", mark)
                try open(.sequence, anchor: optionalString(start.anchor), mark)
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                _ = try checkedTag(start.tag, allowed: "tag:yaml.org,2002:map", mark)
                try open(.mapping, anchor: optionalString(start.anchor), mark)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                let collection = stack.removeLast()
                let closed = innermost
                innermost = collection.outer
                let first = children.count
                children.append(contentsOf: pending[closed.firstItem...])
                pending.removeSubrange(closed.firstItem...)
                nodes[collection.node].children = first..<children.count
                try finish(collection.node, expansion: closed.expansion, anchor: collection.anchor, mark)
            default:
                break  // stream start, document end
            }
        }
    }

    // MARK: - Tree

    private mutating func open(
        _ kind: YAMLDocument.Node.Kind,
        anchor: String?,
        _ mark: yaml_mark_t
    ) throws(HAVPNError) {
        guard stack.count < YAMLDocument.maximumDepth else {
            throw HAVPNError(
                .yamlSyntax,
                "nesting is deeper than \(YAMLDocument.maximumDepth) levels",
                location: at(mark)
            )
        }
        nodes.append(
            YAMLDocument.Node(
                kind: kind,
                line: Int(mark.line) + 1,
                column: Int(mark.column) + 1,
                text: 0..<0,
                isPlain: false,
                children: 0..<0
            )
        )
        stack.append(OpenCollection(node: nodes.count - 1, anchor: anchor, outer: innermost))
        innermost = Innermost(isMapping: kind == .mapping, firstItem: pending.count)
    }

    private mutating func add(
        _ node: YAMLDocument.Node,
        expansion size: Int,
        anchor: String?,
        _ mark: yaml_mark_t
    ) throws(HAVPNError) {
        nodes.append(node)
        try finish(nodes.count - 1, expansion: size, anchor: anchor, mark)
    }

    /// A complete node: registered under its anchor (only now, so an alias cannot point into its own
    /// anchor and make a cycle), then attached to its parent.
    private mutating func finish(_ index: Int, expansion size: Int, anchor: String?, _ mark: yaml_mark_t)
        throws(HAVPNError)
    {
        if let anchor { anchors[anchor] = (index, size) }
        try attach(index, expansion: size, mark)
    }

    private mutating func attach(_ index: Int, expansion size: Int, _ mark: yaml_mark_t) throws(HAVPNError) {
        guard !stack.isEmpty else {
            root = index
            return
        }
        innermost.expansion += size
        let isKey = innermost.isMapping && (pending.count - innermost.firstItem) & 1 == 0
        if isKey, nodes[index].kind == .scalar {
            let top = stack.count - 1
            let key = bytes.withUnsafeBufferPointer { String(decoding: $0[nodes[index].text], as: UTF8.self) }
            if let first = stack[top].keys[key] {
                throw HAVPNError(
                    .duplicate,
                    "key \"\(key)\" appears more than once in this mapping (this is the first)",
                    location: at(line: nodes[first].line, column: nodes[first].column)
                )
            }
            stack[top].keys[key] = index
        }
        pending.append(index)
    }

    // MARK: - libyaml values

    /// Explicit tags are refused except the one that agrees with the node (`!!str` on a scalar) and the
    /// non-specific `!`: havpn types values by their key, and a tag would be a second, conflicting answer.
    private func checkedTag(
        _ tag: UnsafeMutablePointer<yaml_char_t>?,
        allowed: String,
        _ mark: yaml_mark_t
    ) throws(HAVPNError) -> String? {
        guard let tag = optionalString(tag) else { return nil }
        guard tag == allowed || tag == "!" else {
            throw HAVPNError(
                .yamlSyntax,
                "the tag \"\(tag)\" is not supported; havpn types each value by its key (quote a value to keep it a string)",
                location: at(mark)
            )
        }
        return tag
    }

    /// Copies a scalar's text to the end of `bytes`; returns where it is.
    private mutating func append(_ pointer: UnsafeMutablePointer<yaml_char_t>?, count: Int) -> Range<Int> {
        let start = bytes.count
        guard let pointer else { return start..<start }
        bytes.append(contentsOf: UnsafeBufferPointer(start: pointer, count: count))
        return start..<bytes.count
    }

    private func optionalString(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    // MARK: - Errors

    private func at(_ mark: yaml_mark_t) -> SourceLocation {
        at(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func at(line: Int, column: Int) -> SourceLocation { SourceLocation(file: file, line: line, column: column) }

    /// libyaml's own error as one line at the mark it reports: the problem, then what it was parsing.
    private func parseError(_ parser: yaml_parser_t) -> HAVPNError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        switch parser.error {
        case YAML_READER_ERROR:
            // The reader reports a byte offset, not a mark.
            return HAVPNError(.yamlSyntax, problem, location: location(ofByte: parser.problem_offset))
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            var message = problem
            if let context = parser.context {
                let mark = parser.context_mark
                message += " (\(String(cString: context)) at \(mark.line + 1):\(mark.column + 1))"
            }
            let mark = parser.problem_mark
            if character(at: mark) == UInt8(ascii: "\t") { message += "; YAML does not allow tabs for indentation" }
            return HAVPNError(.yamlSyntax, message, location: at(mark))
        default:
            return HAVPNError(.yamlSyntax, problem, location: at(line: 1, column: 1))
        }
    }

    /// The first byte of the character at a mark (line and column count characters); only compared with ASCII.
    private func character(at mark: yaml_mark_t) -> UInt8? {
        var line = 0
        var column = 0
        for byte in yaml {
            if line == mark.line {
                if byte == UInt8(ascii: "\n") { return nil }
                if byte & 0xC0 != 0x80 {
                    if column == mark.column { return byte }
                    column += 1
                }
            } else if byte == UInt8(ascii: "\n") {
                line += 1
            }
        }
        return nil
    }

    /// Line and column (1-based, column in Unicode scalars like libyaml's marks) of a byte offset.
    private func location(ofByte offset: Int) -> SourceLocation {
        var line = 1
        var column = 1
        for byte in yaml.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return at(line: line, column: column)
    }
}
