/// A fresh, named network namespace for one test (named, so `ip -n` and `ip netns exec` reach it),
/// deleted at deinit.
public final class TestNamespace {
    public let name: String

    public init() throws {
        name = "havpn-test-\(UInt32.random(in: 0...UInt32.max))"
        try run("ip", ["netns", "add", name])
    }

    deinit { _ = try? run("ip", ["netns", "del", name]) }

    /// `ip -n NAME ARGS`.
    @discardableResult
    public func ip(_ arguments: String...) throws -> String { try run("ip", ["-n", name] + arguments) }

    /// `ip netns exec NAME ARGS`: any tool, run inside the namespace.
    @discardableResult
    public func exec(_ arguments: String...) throws -> String { try exec(arguments) }

    /// `ip netns exec NAME ARGS`: any tool, run inside the namespace.
    @discardableResult
    public func exec(_ arguments: [String]) throws -> String { try run("ip", ["netns", "exec", name] + arguments) }
}
