import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport

extension TestNamespace {
    /// `nft -f -`-free: one nft command line in the namespace.
    @discardableResult
    func nft(_ command: String) throws -> String {
        try exec(["nft"] + command.split(separator: " ").map(String.init))
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
            let ns = try TestNamespace()
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
