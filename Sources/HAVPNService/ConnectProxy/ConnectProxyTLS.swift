import HAVPNModel
import HAVPNNetlink
import NIOSSL

/// The proxy's TLS server context: the server certificate and key from `proxy.tls`, and client
/// certificates required and checked against `clientCAFile`, as kube-apiserver's egress selector
/// (`transport.tcp.tlsConfig` with a client certificate) dials it. Host names are not checked on client
/// certificates: the CA is what authorises.
enum ConnectProxyTLS {
    static func makeContext(_ tls: Topology.ConnectProxy.TLS) throws(HAVPNError) -> NIOSSLContext {
        let chain = try certificates(tls.certFile, what: "proxy certificate file", keyPath: "proxy.tls.certFile")
        let clientCAs = try certificates(tls.clientCAFile, what: "proxy client CA file", keyPath: "proxy.tls.clientCAFile")
        let keyBytes = try FileContents.read(tls.keyFile, what: "proxy key file", keyPath: "proxy.tls.keyFile", limit: 1 << 20)
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
        } catch {
            throw HAVPNError(.invalidValue, "the proxy key file holds no PEM private key", keyPath: "proxy.tls.keyFile", object: tls.keyFile)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(clientCAs)
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw HAVPNError(
                .invalidValue, "the proxy certificate and key do not make a TLS context: \(error)", keyPath: "proxy.tls",
                object: tls.certFile)
        }
    }

    private static func certificates(_ path: String, what: String, keyPath: String) throws(HAVPNError) -> [NIOSSLCertificate] {
        let bytes = try FileContents.read(path, what: what, keyPath: keyPath, limit: 1 << 20)
        let certificates = try? NIOSSLCertificate.fromPEMBytes(bytes)
        guard let certificates, !certificates.isEmpty else {
            throw HAVPNError(.invalidValue, "the \(what) holds no PEM certificate", keyPath: keyPath, object: path)
        }
        return certificates
    }
}
