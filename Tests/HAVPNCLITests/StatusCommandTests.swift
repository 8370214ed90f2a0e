import Foundation
import Testing

@Suite struct StatusCommandTests {
    @Test func aSideCarThatDoesNotAnswerIsOneErrorLine() throws {
        // Port 1 on loopback: nothing listens there in a test environment.
        let result = try CLIErrorTests().havpn(["status", "--url", "http://127.0.0.1:1"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("havpn: error[io]: cannot connect to the side-car"))
    }

    @Test func onlyHTTPURLsAndTheTwoFormats() throws {
        #expect(
            try CLIErrorTests().havpn(["status", "--url", "https://127.0.0.1:8080"]).stderr.contains("error[usage]")
        )
        #expect(try CLIErrorTests().havpn(["status", "-o", "yaml"]).status == 64)
    }
}
