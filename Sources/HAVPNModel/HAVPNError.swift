/// Where in a topology file something was found (1-based line and column).
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// The one error type of havpn: a code plus the context a user needs, printed as one line.
///
/// Equality compares the code only, so tests can match on `code` without caring about wording.
public struct HAVPNError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code (an extensible enum).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // Topology file
        public static let fileUnreadable = Code("file-unreadable")
        public static let yamlSyntax = Code("yaml-syntax")
        public static let unknownKey = Code("unknown-key")
        public static let missingKey = Code("missing-key")
        public static let wrongType = Code("wrong-type")
        public static let invalidValue = Code("invalid-value")
        public static let outOfRange = Code("out-of-range")
        public static let overlap = Code("overlap")
        public static let duplicate = Code("duplicate")
        public static let nameTooLong = Code("name-too-long")
        public static let unsupportedVersion = Code("unsupported-version")
        // Identity and invocation
        public static let invalidIdentity = Code("invalid-identity")
        public static let usage = Code("usage")
        // Kernel
        public static let kernel = Code("kernel")
        public static let missingKernelFeature = Code("missing-kernel-feature")
        public static let permission = Code("permission")
        public static let netns = Code("netns")
        public static let conflict = Code("conflict")
        public static let verifyFailed = Code("verify-failed")
        // Runtime
        public static let io = Code("io")
        public static let announcement = Code("announcement")
    }

    public var code: Code
    public var message: String
    /// file:line:column in the topology file, when the error is about the file.
    public var location: SourceLocation?
    /// Dotted key path in the topology file, e.g. `networks.shoot.pods[1]`.
    public var keyPath: String?
    /// The kernel object concerned, e.g. `link bond0` or `route 10.0.0.0/8 dev bond0-ip6tnl0`.
    public var object: String?
    /// The kernel's errno (positive), when a system call or netlink request failed.
    public var errno: Int32?
    /// The errno's text (strerror), filled in by the I/O layer since the pure core has no libc.
    public var errnoText: String?

    public init(
        _ code: Code,
        _ message: String,
        location: SourceLocation? = nil,
        keyPath: String? = nil,
        object: String? = nil,
        errno: Int32? = nil,
        errnoText: String? = nil
    ) {
        self.code = code
        self.message = message
        self.location = location
        self.keyPath = keyPath
        self.object = object
        self.errno = errno
        self.errnoText = errnoText
    }

    /// One line: `file:line:col: error[code]: key.path: message (object) [errno N: text]`.
    public var description: String {
        var s = ""
        if let location { s += "\(location): " }
        s += "error[\(code)]: "
        if let keyPath, !keyPath.isEmpty { s += "\(keyPath): " }
        s += message
        if let object { s += " (\(object))" }
        if let errno {
            s += " [errno \(errno)"
            if let errnoText { s += ": \(errnoText)" }
            s += "]"
        }
        return Self.oneLine(s)
    }

    /// Values quoted into a message come from outside (a multi-line YAML scalar, a kernel string):
    /// line breaks and other control characters are escaped so the error stays one line.
    static func oneLine(_ text: String) -> String {
        guard
            text.unicodeScalars.contains(where: {
                $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}"
            })
        else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}":
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
