import Foundation
import Testing

/// `havpn proxy` at its edges: a topology without a proxy, and unreadable TLS files, each one line.
@Suite struct ProxyCommandTests {
    private let cli = CLIErrorTests()

    @Test func topologyWithoutProxySectionIsOneLine() throws {
        let path = try cli.temporaryFile("apiVersion: havpn/v1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try cli.havpn(["proxy", "-f", path])
        #expect(r.status == 1)
        #expect(r.stderr == "havpn: error[usage]: proxy: the topology has no proxy section\n")
    }

    @Test func missingCertificateFileIsOneLineWithErrno() throws {
        let path = try cli.temporaryFile(
            "apiVersion: havpn/v1\nproxy: {address: 127.0.0.1, port: 19555, tls: "
                + "{certFile: /nonexistent/tls.crt, keyFile: /nonexistent/tls.key, clientCAFile: /nonexistent/ca.crt}}\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try cli.havpn(["proxy", "-f", path])
        #expect(r.status == 1)
        #expect(
            r.stderr
                == "havpn: error[file-unreadable]: proxy.tls.certFile: cannot read the proxy certificate file (/nonexistent/tls.crt) [errno 2: No such file or directory]\n"
        )
    }
}
