import HAVPNModel

/// Parses an HTTP/1.x request head down to the CONNECT target (RFC 9112 §3, §9.3.6 of RFC 9110).
/// Strict where leniency has hurt proxies (request smuggling, header folding, stray CRs and NULs), lenient
/// only where RFC 9112 allows it (LF without CR as line end).
enum ConnectRequestLine {
    /// The authority of a well-formed CONNECT head, or why the head is refused.
    static func parse(_ head: [UInt8]) -> Result<String, ConnectRefusal> {
        var lines = split(head)
        // The head ends with an empty line; anything else was not delimited by `scan`.
        guard lines.count >= 2, lines.last!.isEmpty else { return .failure(.malformedHead) }
        lines.removeLast()
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return .failure(.malformedHead) }
        let method = parts[0]
        guard method.allSatisfy(isTokenByte) else { return .failure(.malformedHead) }
        guard parts[2].elementsEqual("HTTP/1.1".utf8) || parts[2].elementsEqual("HTTP/1.0".utf8) else {
            return .failure(.malformedHead)
        }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return .failure(.malformedHead) }
        for line in lines {
            // Folded lines (leading space or tab) are obsolete and a smuggling vector; names are tokens.
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[..<colon].allSatisfy(isTokenByte),
                line[colon...].allSatisfy({ $0 == 0x09 || $0 >= 0x20 && $0 != 0x7F })
            else { return .failure(.malformedHead) }
        }
        // Methods are case-sensitive (RFC 9110 §9.1): `connect` is not CONNECT.
        guard method.elementsEqual("CONNECT".utf8) else { return .failure(.notConnect) }
        return .success(String(decoding: parts[1], as: UTF8.self))
    }

    /// `host:port` → target. Host names, zone ids and anything not an IP literal are refused.
    static func parseAuthority(_ authority: String) -> Result<ConnectTarget, ConnectRefusal> {
        let host: Substring
        let port: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.malformedHead) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let rest = authority[authority.index(after: close)...]
            guard rest.first == ":" else { return .failure(rest.isEmpty ? .badPort : .malformedHead) }
            port = rest.dropFirst()
            guard let v6 = IPv6Address(host) else {
                return .failure(host.contains("%") || !host.contains(":") ? .hostName : .malformedHead)
            }
            return parsePort(port).map { ConnectTarget(address: .v6(v6), port: $0) }
        }
        guard let colon = authority.lastIndex(of: ":") else {
            return .failure(isRegName(authority[...]) ? .badPort : .malformedHead)
        }
        host = authority[..<colon]
        port = authority[authority.index(after: colon)...]
        // An unbracketed IPv6 literal is ambiguous (which colon starts the port?) and not valid syntax.
        guard !host.contains(":"), !host.isEmpty else { return .failure(.malformedHead) }
        guard let v4 = IPv4Address(host) else { return .failure(isRegName(host) ? .hostName : .malformedHead) }
        return parsePort(port).map { ConnectTarget(address: .v4(v4), port: $0) }
    }

    /// 1...65535 in plain decimal (no sign, no leading zero, at most five digits).
    static func parsePort(_ text: Substring) -> Result<Int, ConnectRefusal> {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), text.first != "0",
            let port = Int(text), port <= 65535
        else { return .failure(.badPort) }
        return .success(port)
    }

    /// A DNS-style name (letters, digits, '-', '.', '_'): refused as a host name rather than as garbage.
    static func isRegName(_ text: Substring) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }
    }

    /// tchar of RFC 9110 §5.6.2.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Lines without their terminator (LF or CRLF). A CR anywhere else makes the line malformed later
    /// (it is a control byte), so a bare CR cannot end a line and split a header in two.
    static func split(_ head: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, byte) in head.enumerated() where byte == 0x0A {
            var end = i
            if end > start && head[end - 1] == 0x0D { end -= 1 }
            lines.append(head[start..<end])
            start = i + 1
        }
        if start < head.count { lines.append(head[start...]) }
        return lines
    }
}

/// The parser's failure type: a refusal is what a head that does not parse becomes.
extension ConnectRefusal: Error {}
