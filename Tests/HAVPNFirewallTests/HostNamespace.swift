import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs a tool and returns its stdout; throws on a non-zero exit. (Tests only: havpn itself never
/// runs `nft`; the tests use it as an independent second opinion and as "the operator's hand".)
/// posix_spawn, not Foundation's Process, which hangs in the UML lab where this binary also runs.
/// Serialises "make a pipe, spawn, close the write end": tests run in parallel, and a child spawned
/// meanwhile would inherit another call's write end (no close-on-exec), so that call would never
/// read end-of-file.
let spawnLock = NSLock()

@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> String {
    spawnLock.lock()
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else {
        spawnLock.unlock()
        throw CommandFailed(description: "pipe failed")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    let argv = (["/usr/bin/env", tool] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
    close(pipeEnds[1])
    spawnLock.unlock()
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
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")): status \(status): \(text)")
    }
    return text
}

/// A fresh named network namespace on the host kernel, deleted at deinit.
final class HostNamespace {
    let name: String

    init() throws {
        name = "havpn-fw-\(UInt32.random(in: 0...UInt32.max))"
        try run("ip", ["netns", "add", name])
    }

    deinit { _ = try? run("ip", ["netns", "del", name]) }

    @discardableResult
    func exec(_ arguments: String...) throws -> String { try run("ip", ["netns", "exec", name] + arguments) }

    /// `nft -f -`-free: one nft command line in the namespace.
    @discardableResult
    func nft(_ command: String) throws -> String {
        try run("ip", ["netns", "exec", name, "nft"] + command.split(separator: " ").map(String.init))
    }

    func firewall(_ backend: FirewallBackend = .nftables) throws -> FirewallClient {
        try FirewallClient(netns: name, backend: backend)
    }
}

/// Whether the host kernel has nf_tables for inet with NAT (checked once, in a throwaway namespace).
enum HostNftables {
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "needs root (network namespaces)" }
        // The lab's kernel has no nf_tables for IP; the iptables backend is tested there instead.
        if ProcessInfo.processInfo.environment["HAVPN_KERNEL_LAB"] == "1" {
            return "host-kernel tests (the lab has no nf_tables for IP)"
        }
        do {
            let ns = try HostNamespace()
            _ = try ns.firewall(.nftables).resolvedBackend()
            return nil
        } catch {
            return "host kernel lacks nf_tables inet/NAT: \(error)"
        }
    }()
    static var isAvailable: Bool { unavailableReason == nil }
}

enum Roles {
    static func ruleset(_ role: Role, _ edit: (inout Topology) -> Void = { _ in }) -> Ruleset {
        var topology = Topology()
        edit(&topology)
        return Planner.desiredState(rulesetOnly: topology, role: role)
    }
}

extension Planner {
    static func desiredState(rulesetOnly topology: Topology, role: Role) -> Ruleset {
        desiredRuleset(topology: topology, role: role)
    }

    /// The ruleset part of a plan, from a firewall observation.
    static func planRuleset(_ desired: Ruleset, _ firewall: FirewallClient) throws -> [PlanAction] {
        let observed = ObservedState(ruleset: try firewall.observe(expecting: desired))
        return plan(desired: DesiredState(ruleset: desired), observed: observed).actions
    }
}
