import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner

struct CommandFailed: Error, CustomStringConvertible {
    var description: String
}

/// Runs a tool and returns its stdout; throws on a non-zero exit. (Tests only: havpn itself never
/// runs `nft`; the tests use it as an independent second opinion and as "the operator's hand".)
@discardableResult
func run(_ tool: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailed(
            description: "\(tool) \(arguments.joined(separator: " ")): status \(process.terminationStatus): "
                + String(decoding: errData, as: UTF8.self))
    }
    return String(decoding: data, as: UTF8.self)
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
