import Foundation

/// Files the tests read: the bundled `Fixtures` resource and, for examples, schema and script, the
/// repository checkout this test file was compiled from.
enum RepositoryFiles {
    /// The package root, three levels above this file (Tests/HAVPNModelTests/RepositoryFiles.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let fixtures: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            fatalError("the Fixtures resource is missing from the test bundle")
        }
        return url
    }()

    static var examples: [URL] { files(in: root.appendingPathComponent("examples"), withExtension: "yaml") }
    static var badInputs: [URL] { files(in: fixtures.appendingPathComponent("bad"), withExtension: "yaml") }

    static func files(in directory: URL, withExtension ext: String) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".\(ext)") }.sorted().map { directory.appendingPathComponent($0) }
    }

    static func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }
}
