import Foundation
import HAVPNModel
import Testing

/// Runs `scripts/check-schema.py`, which judges files against `schemas/topology.v1.schema.json`.
enum SchemaChecker {
    static let script = RepositoryFiles.root.appendingPathComponent("scripts/check-schema.py")

    /// Whether python3 with PyYAML and jsonschema can run here.
    static let isAvailable: Bool = (try? run(["-c", "import yaml, jsonschema"]).status) == 0

    /// `accept` or `reject` per file path.
    static func verdicts(for files: [URL]) throws -> [String: String] {
        let result = try run([script.path] + files.map(\.path))
        #expect(result.status == 0, "check-schema.py failed: \(result.output)")
        // Lines are `accept PATH` or `reject PATH: reason`; paths may hold spaces (a clone under
        // "/tmp/my clone"), so each line is matched against the paths asked about.
        var verdicts: [String: String] = [:]
        for line in result.output.split(separator: "\n").map(String.init) {
            for file in files where line == "accept \(file.path)" || line.hasPrefix("reject \(file.path): ") {
                verdicts[file.path] = String(line.prefix { $0 != " " })
            }
        }
        return verdicts
    }

    private static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

@Suite(
    .enabled(
        if: SchemaChecker.isAvailable, "needs python3 with PyYAML and jsonschema (apt: python3-yaml python3-jsonschema)"
    ))
struct SchemaAgreementTests {
    private var goodFiles: [URL] {
        RepositoryFiles.examples
            + RepositoryFiles.files(in: RepositoryFiles.fixtures.appendingPathComponent("good"), withExtension: "yaml")
    }

    @Test func goodFilesAreAcceptedByDecoderAndSchema() throws {
        let files = goodFiles
        #expect(files.count >= 7)
        let verdicts = try SchemaChecker.verdicts(for: files)
        for url in files {
            #expect(throws: Never.self, "\(url.lastPathComponent)") {
                try TopologyDecoder.decode(yaml: RepositoryFiles.text(url), file: url.lastPathComponent)
            }
            #expect(verdicts[url.path] == "accept", "schema rejects \(url.lastPathComponent)")
        }
    }

    /// The decoder rejects every corpus file (BadInputCorpusTests); the schema must too, unless the file says
    /// `# schema: accept` because its rule is beyond JSON Schema.
    @Test func schemaJudgesBadInputsAsTheCorpusSays() throws {
        let inputs = BadInput.all
        let verdicts = try SchemaChecker.verdicts(for: inputs.map(\.url))
        #expect(verdicts.count == inputs.count)
        for input in inputs {
            #expect(try input.decoderMessage() != nil, "decoder accepts \(input.name)")
            let expected = try input.schemaAccepts() ? "accept" : "reject"
            #expect(verdicts[input.url.path] == expected, "schema verdict for \(input.name)")
        }
    }

    /// Guards against a schema that rejects everything: the marked exceptions must really be accepted.
    @Test func someBadInputsAreBeyondTheSchema() throws {
        #expect(try BadInput.all.filter { try $0.schemaAccepts() }.count >= 10)
    }
}
