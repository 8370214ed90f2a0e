import Yams

/// Reads a topology document. Every error names file, line, column and key path.
///
/// The YAML is composed into a node tree (which keeps each node's position) and walked by hand rather than
/// through `Decodable`, because `Decodable` loses positions and accepts unknown keys.
public enum TopologyDecoder {
    /// Decodes and validates one YAML document. `file` is only used in error messages.
    public static func decode(yaml: String, file: String) throws(HAVPNError) -> Topology {
        let root = try composeSingleDocument(yaml: yaml, file: file)
        let cursor = YAMLCursor(node: root, path: "", file: file)
        if cursor.isNull {
            throw HAVPNError(
                .missingKey, "the document is empty; it needs at least \"apiVersion: \(Topology.apiVersion)\"",
                location: cursor.location)
        }
        guard case .mapping = root else {
            throw HAVPNError(
                .wrongType, "expected a mapping at the top level, got \(cursor.found)",
                location: cursor.location)
        }
        var reader = TopologyReader()
        try reader.readDocument(cursor)
        try TopologyValidator(topology: reader.topology, locations: reader.locations).validate()
        return reader.topology
    }

    /// The one document in `yaml`; YAML syntax errors, an empty stream and a second document become
    /// ``HAVPNError``s at the position libyaml reports.
    private static func composeSingleDocument(yaml: String, file: String) throws(HAVPNError) -> Node {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        do {
            let parser = try Parser(yaml: yaml, encoding: .utf8)
            guard let root = try parser.singleRoot() else {
                throw HAVPNError(
                    .missingKey, "the document is empty; it needs at least \"apiVersion: \(Topology.apiVersion)\"",
                    location: SourceLocation(file: file, line: 1, column: 1))
            }
            return root
        } catch let error as HAVPNError {
            throw error
        } catch let error as YamlError {
            switch error {
            case .composer(_, let problem, let mark, _) where problem == "but found another document":
                throw HAVPNError(
                    .yamlSyntax, "found a second YAML document; a topology file holds exactly one",
                    location: at(mark))
            case .scanner(let context, let problem, let mark, _),
                .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                var message = problem
                if let context { message += " (\(context.text) at \(context.mark))" }
                if character(at: mark, in: yaml) == "\t" { message += "; YAML does not allow tabs for indentation" }
                throw HAVPNError(.yamlSyntax, message, location: at(mark))
            case .reader(let problem, let offset, _, _):
                throw HAVPNError(.yamlSyntax, problem, location: offset.map { location(ofOffset: $0, in: yaml, file) })
            case .duplicatedKeysInMapping(let duplicates, let context):
                let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
                throw HAVPNError(
                    .duplicate, "key \(keys) appears more than once in this mapping (this is the first)",
                    location: at(context.mark))
            default:
                throw HAVPNError(.yamlSyntax, "\(error)", location: SourceLocation(file: file, line: 1, column: 1))
            }
        } catch {
            throw HAVPNError(.yamlSyntax, "\(error)", location: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// The character libyaml points at (its columns count Unicode scalars), if any.
    private static func character(at mark: Mark, in yaml: String) -> Unicode.Scalar? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let scalars = Array(lines[mark.line - 1].unicodeScalars)
        return mark.column >= 1 && mark.column <= scalars.count ? scalars[mark.column - 1] : nil
    }

    /// Line and column (1-based, in characters) of a character offset; libyaml's reader errors give only that.
    private static func location(ofOffset offset: Int, in yaml: String, _ file: String) -> SourceLocation {
        var line = 1
        var column = 1
        for character in yaml.prefix(offset) {
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }
}
