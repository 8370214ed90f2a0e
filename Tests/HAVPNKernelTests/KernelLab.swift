import Foundation
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import Testing

/// The real-kernel lab (lab/umlrun via scripts/kernel-tests) sets HAVPN_KERNEL_LAB=1. Outside it
/// the host kernel may lack bonding/ip6tnl and the tests would change the host: they skip.
enum KernelLab {
    static var isActive: Bool { ProcessInfo.processInfo.environment["HAVPN_KERNEL_LAB"] == "1" }
}

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs `ip` (or another tool) and returns its stdout; throws on a non-zero exit.
/// posix_spawn rather than Foundation's Process: Process waits through a CFSocket wakeup pair,
/// which UML refuses to create ("Could not create wakeup socket pair"), and then hangs.
@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> String {
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else { throw CommandFailed(description: "pipe failed") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    let argv = (["/usr/bin/env", tool] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
    close(pipeEnds[1])
    guard spawned == 0 else {
        close(pipeEnds[0])
        throw CommandFailed(description: "cannot run \(tool): \(spawned)")
    }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
        if count > 0 {
            output += chunk[0..<count]
        } else if count == 0 || errno != EINTR {
            break
        }
    }
    close(pipeEnds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = String(decoding: output, as: UTF8.self)
    // WIFEXITED && WEXITSTATUS == 0
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")): status \(status): \(text)")
    }
    return text
}

/// A fresh, named network namespace for one test (named, so `ip -n` can inspect it).
final class TestNamespace {
    let name: String

    init() throws {
        name = "havpn-kt-\(UInt32.random(in: 0...UInt32.max))"
        try run("ip", ["netns", "add", name])
    }

    deinit { _ = try? run("ip", ["netns", "del", name]) }

    func client() throws -> NetlinkClient { try NetlinkClient(netns: name) }

    @discardableResult
    func ip(_ arguments: String...) throws -> String { try run("ip", ["-n", name] + arguments) }

    /// `ip -n NS -j ARGS`, parsed.
    func ipJSON(_ arguments: String...) throws -> [[String: Any]] {
        let text = try run("ip", ["-n", name, "-j"] + arguments)
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return value as? [[String: Any]] ?? []
    }

    /// The `linkinfo.info_data` of one link from `ip -d -j link show`.
    func linkDetails(_ link: String) throws -> (link: [String: Any], data: [String: Any]) {
        let entry = try #require(try ipJSON("-d", "link", "show", "dev", link).first)
        let info = entry["linkinfo"] as? [String: Any] ?? [:]
        return (entry, info["info_data"] as? [String: Any] ?? [:])
    }
}

func ipv6(_ text: String) -> IPv6Address { IPv6Address(text)! }
func net(_ text: String) -> IPNetwork { IPNetwork(text)! }
