import Foundation
import HAVPNControl
import HAVPNModel
import Logging
import NIOCore
import NIOSSL
import Testing

@testable import HAVPNService

/// A throw-away CA with a server and a client certificate, made by `openssl` in a temporary directory.
struct TestPKI {
    let directory: URL
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static let isAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("havpn-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(
            ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=havpn test CA"]
        )
        for name in ["server", "client"] {
            try openssl(
                ["req"] + ec + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=havpn test \(name)"]
            )
            try openssl([
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).crt", "-days", "1",
            ])
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HAVPNError(.io, "openssl \(arguments.joined(separator: " ")) failed")
        }
    }

    /// A client context that trusts the test CA; with the client certificate when `withCertificate`.
    func clientContext(withCertificate: Bool) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path("ca.crt")))
        if withCertificate {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(path("client.crt")).map {
                .certificate($0)
            }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: path("client.key"), format: .pem))
        }
        return try NIOSSLContext(configuration: configuration)
    }

    var proxyTLS: Topology.ConnectProxy.TLS {
        Topology.ConnectProxy.TLS(
            certFile: path("server.crt"),
            keyFile: path("server.key"),
            clientCAFile: path("ca.crt")
        )
    }
}

@Suite(.enabled(if: TestPKI.isAvailable, "needs /usr/bin/openssl"), .timeLimit(.minutes(1)))
struct ConnectProxyTLSTests {
    @Test func relaysForAClientWithACertificateAndHalfClosesThroughTLS() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology { $0.tls = pki.proxyTLS })
        try await proxy.exchange(
            "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n",
            tls: pki.clientContext(withCertificate: true)
        ) { exchange in
            #expect(exchange.status == 200)
            try await exchange.writer.write(ByteBuffer(string: "over tls"))
            #expect(try await read(&exchange.reader, until: "over tls", after: exchange.rest) == "over tls")
            // close_notify is TLS's half-close: the target still answers afterwards.
            exchange.writer.finish()
            #expect(await readToEnd(&exchange.reader) == EchoTarget.trailer)
        }
        #expect(target.acceptedConnections == 1)
        #expect(proxy.counter("havpn_proxy_tunnels_total") == 1)
        #expect(await eventually { proxy.service.openTunnels == 0 })
        await proxy.stop()
    }

    @Test func refusesATLSClientWithoutACertificateBeforeAnyConnection() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let target = try await EchoTarget(host: "127.0.0.2")
        let proxy = try await RunningProxy(topology: proxyTopology { $0.tls = pki.proxyTLS })
        let client = try await ProxyClient.connect(to: proxy.address, tls: pki.clientContext(withCertificate: false))
        var status = 0
        // TLS 1.3 lets the client finish its handshake before the server has judged its certificate, so the
        // refusal arrives as an alert on the first read: an error, or end of stream, but never a 200.
        try await client.connection.executeThenClose { inbound, outbound in
            var reader = inbound.makeAsyncIterator()
            status =
                (try? await client.request(
                    "CONNECT 127.0.0.2:\(target.port) HTTP/1.1\r\n\r\n",
                    reader: &reader,
                    writer: outbound
                ).status) ?? 0
        }
        #expect(status == 0)
        #expect(target.acceptedConnections == 0)
        #expect(proxy.counter("havpn_proxy_tunnels_total") == 0)
        await proxy.stop()
    }

    @Test func unreadableCertificateFileIsOneLineError() throws {
        var tls = Topology.ConnectProxy.TLS(
            certFile: "/nonexistent/tls.crt",
            keyFile: "/nonexistent/tls.key",
            clientCAFile: "/nonexistent/ca.crt"
        )
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        var error = #expect(throws: HAVPNError.self) {
            try ConnectProxyService(topology: try proxyTopology { $0.tls = tls }, logger: logger)
        }
        #expect(error?.code == .fileUnreadable)
        #expect(
            error?.description
                == "error[file-unreadable]: proxy.tls.certFile: cannot read the proxy certificate file (/nonexistent/tls.crt) [errno 2: No such file or directory]"
        )
        let pki = try TestPKI()
        defer { pki.remove() }
        tls = pki.proxyTLS
        tls.keyFile = pki.path("ca.crt")  // a certificate where the key should be
        error = #expect(throws: HAVPNError.self) {
            try ConnectProxyService(topology: try proxyTopology { $0.tls = tls }, logger: logger)
        }
        #expect(error?.code == .invalidValue)
        #expect(error?.keyPath == "proxy.tls.keyFile")
    }
}
