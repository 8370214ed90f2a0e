import Glibc
import HAVPNModel

/// `havpn status`'s side of `/status`: one HTTP/1.0 GET over a TCP socket, blocking, with a
/// timeout. No HTTP client library: FoundationNetworking would bring all of Foundation back into
/// the binary, and a NIO client is more code than this for one request to a loopback address.
public enum StatusClient {
    /// The parts of `http://host[:port][/path]` (IPv6 hosts in brackets); path `/status` when absent.
    struct Endpoint: Hashable {
        var host: String
        var port: Int
        var path: String
    }

    static func endpoint(_ url: String) throws(HAVPNError) -> Endpoint {
        guard url.hasPrefix("http://") else {
            throw HAVPNError(.usage, "only http:// URLs are served by the side-car", object: url)
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(authority.count)
        var host = Substring(authority)
        var port = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw HAVPNError(.usage, "unclosed [ in the URL", object: url)
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let tail = authority[authority.index(after: close)...]
            if tail.hasPrefix(":") {
                guard let p = Int(tail.dropFirst()) else { throw HAVPNError(.usage, "bad port", object: url) }; port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let p = Int(authority[authority.index(after: colon)...]) else {
                throw HAVPNError(.usage, "bad port", object: url)
            }
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw HAVPNError(.usage, "no host or a bad port in the URL", object: url)
        }
        return Endpoint(host: String(host), port: port, path: path.isEmpty || path == "/" ? "/status" : String(path))
    }

    /// The body of a 200 answer to GET `url`.
    public static func get(_ url: String, timeoutSeconds: Int = 5) throws(HAVPNError) -> [UInt8] {
        let e = try endpoint(url)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(e.host, "\(e.port)", &hints, &result) == 0, let first = result else {
            throw HAVPNError(.io, "cannot resolve the side-car's host", object: e.host)
        }
        defer { freeaddrinfo(result) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("cannot open a socket", url) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            throw failure("cannot connect to the side-car", url)
        }
        let request = Array("GET \(e.path) HTTP/1.0\r\nHost: \(e.host)\r\nAccept: application/json\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw failure("cannot send the request", url)
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("no answer from the side-car", url)
            }
            response += buffer[..<n]
            guard response.count < 16 << 20 else {
                throw HAVPNError(.io, "the answer is larger than 16 MiB", object: url)
            }
        }
        return try body(of: response, url: url)
    }

    /// The body of a raw HTTP response; a status other than 200 is an error with the body's first line.
    static func body(of response: [UInt8], url: String) throws(HAVPNError) -> [UInt8] {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard
            let end = (0...(max(0, response.count - 4))).first(where: {
                response.count >= 4 && Array(response[$0..<$0 + 4]) == separator
            })
        else { throw HAVPNError(.io, "not an HTTP answer", object: url) }
        let head = String(decoding: response[..<end], as: UTF8.self)
        let body = Array(response[(end + 4)...])
        let status = head.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
        guard status == 200 else {
            let text = String(decoding: body, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            throw HAVPNError(.io, "the side-car answered \(status.map(String.init) ?? "?"): \(text)", object: url)
        }
        return body
    }

    private static func failure(_ message: String, _ url: String) -> HAVPNError {
        let code = errno
        return HAVPNError(.io, message, object: url, errno: code, errnoText: String(cString: strerror(code)))
    }
}
