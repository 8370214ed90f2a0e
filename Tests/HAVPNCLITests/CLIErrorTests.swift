import Foundation
import Testing

/// The `havpn` binary as a user meets it: exit codes and one-line errors. These run the executable
/// that `swift build --build-tests` put next to the test bundle, without touching the kernel.
@Suite struct CLIErrorTests {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [Substring] { stderr.split(separator: "\n") }
    }

    static let binary: URL = {
        // The test bundle lives in the build products directory, beside the executable.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1
            && !FileManager.default.fileExists(atPath: url.appendingPathComponent("havpn").path)
        {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("havpn")
    }()

    func havpn(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting: a full pipe would block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("havpn-cli-\(UUID().uuidString).yaml")
            .path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "\(Self.binary.path)")
    }

    @Test func missingTopologyFileIsOneLineWithErrno() throws {
        let r = try havpn(["validate", "-f", "/nonexistent/topology.yaml"])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(
            r.stderr
                == "havpn: error[file-unreadable]: cannot read the topology file (/nonexistent/topology.yaml) [errno 2: No such file or directory]\n"
        )
    }

    @Test func invalidTopologyIsOneLinePerError() throws {
        let path = try temporaryFile("apiVersion: havpn/v1\nservers: 0\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try havpn(["validate", "-f", path])
        #expect(r.status == 1)
        #expect(r.stderrLines.count == 1)
        #expect(r.stderr.hasPrefix("havpn: \(path):2:10: error[out-of-range]: servers:"))
    }

    @Test(arguments: [["plan", "-o", "yaml"], ["apply", "-o", "yaml"], ["show", "-o", "human"]])
    func outputFormatsOfferOnlyWhatTheCommandPrints(_ arguments: [String]) throws {
        let r = try havpn(arguments + ["-f", "x.yaml", "--role", "shoot"].filter { _ in arguments[0] != "show" })
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("is invalid for '-o <output>'"))
    }

    @Test func missingKeyFileWithJSONLogsStaysJSON() throws {
        let path = try temporaryFile("apiVersion: havpn/v1\nannouncements: {keyFile: /nonexistent/key}\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try havpn(["run", "-f", path, "--role", "shoot", "--index", "0", "--log-format", "json"])
        #expect(r.status == 1)
        let lines = (r.stdout + r.stderr).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8))
            #expect(object is [String: Any], "not a JSON object: \(line)")
        }
        #expect(r.stderr.contains("error[file-unreadable]"))
        #expect(r.stderr.contains("announcements.keyFile"))
        #expect(!r.stderr.contains("NSCocoaErrorDomain"))
    }

    @Test func helpDocumentsExitCodes() throws {
        let r = try havpn(["--help"])
        #expect(r.status == 0)
        // The formatter wraps paragraphs to the width; compare with whitespace runs collapsed.
        let text = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("Exit codes: 0 ok or in sync; 1 error"))
        #expect(text.contains("64 usage error."))
    }

    @Test func versionNamesTheCommitTheBinaryWasBuiltFrom() throws {
        let r = try havpn(["--version"])
        #expect(r.status == 0)
        let version = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version.wholeMatch(of: /\d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)/) != nil, "\(version)")
        // In a git checkout the commit is the checkout's own.
        let head = Process()
        head.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        head.arguments = [
            "-C", URL(fileURLWithPath: #filePath).deletingLastPathComponent().path, "rev-parse", "--short=12", "HEAD",
        ]
        let pipe = Pipe()
        head.standardOutput = pipe
        head.standardError = FileHandle.nullDevice
        guard (try? head.run()) != nil else { return }
        let commit = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        head.waitUntilExit()
        if head.terminationStatus == 0 { #expect(version.contains("commit \(commit)"), "\(version) vs HEAD \(commit)") }
    }
}
