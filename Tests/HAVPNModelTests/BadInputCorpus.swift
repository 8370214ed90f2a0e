import Foundation
import HAVPNModel
import Testing

/// One file of `Tests/Fixtures/bad/`: a topology with exactly one mistake, the one-line error the decoder
/// must print for it (`NN-name.expected`), and whether the JSON Schema is expected to miss the mistake
/// (a `# schema: accept` comment in the file's header, for rules JSON Schema cannot express).
struct BadInput: CustomTestStringConvertible, Sendable {
    let url: URL
    /// The name tests pass as `file:`, so expected messages read `bad/NN-name.yaml:L:C: ...`.
    var name: String { "bad/\(url.lastPathComponent)" }
    var expectedURL: URL { url.deletingPathExtension().appendingPathExtension("expected") }
    var testDescription: String { name }

    static var all: [BadInput] { RepositoryFiles.badInputs.map(BadInput.init(url:)) }

    func yaml() throws -> String { try RepositoryFiles.text(url) }

    func expectedMessage() throws -> String {
        try RepositoryFiles.text(expectedURL).trimmingCharacters(in: .newlines)
    }

    /// True when the header comment says the schema accepts this file.
    func schemaAccepts() throws -> Bool {
        try yaml().split(separator: "\n").prefix { $0.hasPrefix("#") }.contains { $0.hasPrefix("# schema: accept") }
    }

    /// The decoder's one-line error, or nil when the file decodes.
    func decoderMessage() throws -> String? {
        do {
            _ = try TopologyDecoder.decode(yaml: yaml(), file: name)
            return nil
        } catch let error as HAVPNError {
            return error.description
        }
    }
}
