import Foundation
import HAVPNTestSupport
import Testing

/// The announcement key never reaches a log line, at any level: ServiceLifecycle logs each service's
/// description at debug level, and the side-car's services hold the key.
@Suite struct SecretRedactionTests {
    static let secret = "SECRET-KEY-0123456789"

    @Test(.enabled(if: getuid() == 0, "needs root for a network namespace"))
    func debugLogsNeverShowTheAnnouncementKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("havpn-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyFile = dir.appendingPathComponent("key").path
        try Self.secret.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let topology = dir.appendingPathComponent("topology.yaml").path
        try "apiVersion: havpn/v1\nannouncements: {keyFile: \(keyFile)}\n".write(
            toFile: topology,
            atomically: true,
            encoding: .utf8
        )
        let namespace = try TestNamespace()

        let log = dir.appendingPathComponent("log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = CLIErrorTests.binary
        process.arguments = [
            "run", "-f", topology, "--role", "apiserver", "--index", "1", "--netns", namespace.name,
            "--http-address", "127.0.0.1", "--http-port", String(20000 + Int(getpid()) % 20000),
            "--log-level", "trace",
        ]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Poll with a deadline until every service has been started (and so described).
        let deadline = Date().addingTimeInterval(30)
        var text = ""
        while Date() < deadline {
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if text.components(separatedBy: "Starting service\n").count > 1 || text.contains("Starting service ") {
                if text.contains("redacted") { break }
            }
            usleep(50_000)
        }
        process.terminate()
        process.waitUntilExit()
        withExtendedLifetime(namespace) {}  // deleted only once the side-car has stopped
        text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""

        // The services were described, with the key in them as `<redacted N-byte key>` ...
        #expect(text.contains("<redacted \(Self.secret.utf8.count)-byte key>"), "\(text.prefix(2000))")
        // ... and its bytes appear in no form: text, decimal array, hex.
        let bytes = Array(Self.secret.utf8)
        #expect(!text.contains(Self.secret))
        #expect(!text.contains(bytes.prefix(6).map(String.init).joined(separator: ", ")))
        #expect(!text.lowercased().contains(bytes.prefix(6).map { String(format: "%02x", $0) }.joined()))
    }
}
