/// Reads a topology document. Every error names file, line, column and key path.
///
/// libyaml's event parser builds a node tree that keeps each node's position (``YAMLDocument``), and the
/// tree is walked by hand rather than through `Decodable`, because `Decodable` loses positions, accepts
/// unknown keys and would let YAML's tag guessing decide what `no` means.
public enum TopologyDecoder {
    /// Decodes and validates one YAML document. `file` is only used in error messages.
    public static func decode(yaml: String, file: String) throws(HAVPNError) -> Topology {
        try decode(YAMLDocument.parse(yaml, file: file), file: file)
    }

    /// ``decode(yaml:file:)`` of a file's bytes as read (no `String` copy of them). Bytes that are not
    /// UTF-8 are refused with their position, as libyaml's reader finds them.
    public static func decode(yaml: [UInt8], file: String) throws(HAVPNError) -> Topology {
        let document = try yaml.withUnsafeBufferPointer { bytes in
            Result { () throws(HAVPNError) in try YAMLDocument.parse(bytes, file: file) }
        }.get()
        return try decode(document, file: file)
    }

    private static func decode(_ document: YAMLDocument?, file: String) throws(HAVPNError) -> Topology {
        guard let document else {
            throw HAVPNError(
                .missingKey,
                "the document is empty; it needs at least \"apiVersion: \(Topology.apiVersion)\"",
                location: SourceLocation(file: file, line: 1, column: 1)
            )
        }
        let cursor = YAMLCursor(document: document, index: document.root, path: "", file: file)
        if cursor.isNull {
            throw HAVPNError(
                .missingKey,
                "the document is empty; it needs at least \"apiVersion: \(Topology.apiVersion)\"",
                location: cursor.location
            )
        }
        guard cursor.node.kind == .mapping else {
            throw HAVPNError(
                .wrongType,
                "expected a mapping at the top level, got \(cursor.found)",
                location: cursor.location
            )
        }
        var reader = TopologyReader()
        try reader.readDocument(cursor)
        try TopologyValidator(topology: reader.topology, locations: reader.locations).validate()
        return reader.topology
    }
}
