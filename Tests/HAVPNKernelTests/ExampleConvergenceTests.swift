import Foundation
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

@testable import HAVPNNetlink

/// Every example topology, every role, on the real kernel: converge, re-plan empty, repair drift,
/// converge from any half-applied state, and leave the kernel alone on a bad file.
@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct ExampleConvergenceTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let examples = ["ha-2x2-ipv4", "dual-stack", "three-servers", "ipv6-only", "overlap"]

    struct Case: CustomTestStringConvertible, Sendable {
        var example: String
        var role: Role
        var index: Int
        var testDescription: String { "\(example) \(role.rawValue) \(index)" }
    }

    static var cases: [Case] {
        examples.flatMap { name -> [Case] in
            let t = topology(name)
            return [Case(example: name, role: .apiserver, index: 1)]
                + [0, t.shootClients - 1].map { Case(example: name, role: .shoot, index: $0) }
        }
    }

    static func topology(_ name: String) -> Topology {
        let url = repository.appendingPathComponent("examples/\(name).yaml")
        return try! TopologyDecoder.decode(yaml: String(contentsOf: url, encoding: .utf8), file: url.path)
    }

    /// The netlink part only: the ruleset is the firewall client's (IptablesBackendTests).
    static func desired(_ c: Case) throws -> DesiredState {
        var desired = try Planner.desiredState(
            topology: topology(c.example),
            identity: Identity(role: c.role, index: c.index),
            inputs: ControllerInputs()
        )
        desired.ruleset = nil
        return desired
    }

    /// observe → plan → apply, as `havpn apply` does, until the plan is empty (at most 3 passes).
    @discardableResult
    static func converge(_ client: NetlinkClient, _ desired: DesiredState) throws -> Plan {
        var plan = Plan()
        for _ in 0..<3 {
            plan = Planner.plan(desired: desired, observed: try observe(client, desired))
            if plan.isEmpty { break }
            _ = try client.apply(plan.actions)
        }
        return Planner.plan(desired: desired, observed: try observe(client, desired))
    }

    static func observe(_ client: NetlinkClient, _ desired: DesiredState) throws -> ObservedState {
        try client.observe(declaredLinks: Set(desired.links.map(\.name)), sysctlKeys: desired.sysctls.map(\.key))
    }

    @Test(arguments: cases)
    func convergesAndShowsVpn2Options(_ c: Case) throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        let desired = try Self.desired(c)
        let first = Planner.plan(desired: desired, observed: try Self.observe(client, desired))
        #expect(!first.isEmpty)
        _ = try client.apply(first.actions)
        // One pass suffices from an empty namespace, and the second plan is empty.
        #expect(Planner.plan(desired: desired, observed: try Self.observe(client, desired)).isEmpty)

        let bond = try ns.linkDetails("bond0").data
        #expect(bond["mode"] as? String == "active-backup")
        #expect(bond["miimon"] as? Int == 100)
        #expect(bond["fail_over_mac"] as? String == "active")
        #expect(bond["use_carrier"] as? Int == 1)
        #expect(bond["primary"] as? String == Self.topology(c.example).bond.primary.map { "tap\($0)" })
        #expect(bond["num_peer_notif"] as? Int == 5)
        let tunnels = desired.links.filter { if case .ip6tnl = $0.kind { true } else { false } }
        for tunnel in tunnels {
            let data = try ns.linkDetails(tunnel.name).data
            #expect(data["proto"] as? String == "any")
            #expect((data["encap_limit"] as? Int) == nil, "encaplimit none: \(data)")
        }
        let routes = try ns.ipJSON("route", "show", "proto", "201") + ns.ipJSON("-6", "route", "show", "proto", "201")
        #expect(routes.count == desired.routes.count)
        let links = try ns.ipJSON("link", "show").compactMap { $0["ifname"] as? String }
        #expect(Set(desired.links.map(\.name)).isSubset(of: Set(links)))
    }

    @Test func driftIsRepairedAndForeignObjectsSurvive() throws {
        let c = Case(example: "ha-2x2-ipv4", role: .apiserver, index: 1)
        let ns = try TestNamespace()
        let client = try ns.client()
        let desired = try Self.desired(c)
        #expect(try Self.converge(client, desired).isEmpty)

        // Foreign objects, also on havpn's own devices.
        try ns.ip("link", "add", "dummy7", "type", "dummy")
        try ns.ip("route", "add", "198.51.100.0/24", "dev", "bond0-ip6tnl0", "proto", "static")
        try ns.ip("addr", "add", "192.0.2.1/24", "dev", "bond0")
        // Drift: a wrong bond option, a deleted route, a tunnel with the wrong remote, an extra owned route.
        try ns.ip("link", "set", "bond0", "type", "bond", "miimon", "250")
        let victim = try #require(desired.routes.first)
        try ns.ip("route", "del", victim.destination.description, "dev", victim.device)
        try ns.ip("link", "set", "bond0-ip6tnl1", "type", "ip6tnl", "remote", "fd8f:6d53:b97a:1::b:9")
        try ns.ip("route", "add", "203.0.113.0/24", "dev", "bond0-ip6tnl1", "proto", "201")

        let drift = Planner.plan(desired: desired, observed: try Self.observe(client, desired))
        #expect(drift.actions.count == 4, "\(drift.actions.map(PlanRenderer.line))")
        #expect(try Self.converge(client, desired).isEmpty)

        #expect(try ns.linkDetails("bond0").data["miimon"] as? Int == 100)
        #expect(try ns.linkDetails("bond0-ip6tnl1").data["remote"] as? String == "fd8f:6d53:b97a:1::b:1")
        #expect(try ns.ip("route", "show", victim.destination.description).contains(victim.device))
        #expect(try ns.ip("route", "show", "203.0.113.0/24").isEmpty)
        #expect(try ns.ip("link", "show", "dummy7").contains("dummy7"))
        #expect(try ns.ip("route", "show", "198.51.100.0/24").contains("proto static"))
        #expect(try ns.ip("addr", "show", "dev", "bond0").contains("192.0.2.1/24"))
    }

    /// An apply killed after any number of actions (kill -9 between requests) converges on the
    /// next run: replay every prefix of the full creation plan, then reconcile.
    @Test(arguments: ["ha-2x2-ipv4", "dual-stack"])
    func halfAppliedStatesConverge(_ example: String) throws {
        let desired = try Self.desired(Case(example: example, role: .apiserver, index: 1))
        let full = Planner.plan(desired: desired, observed: ObservedState()).actions
        for cut in stride(from: 1, to: full.count, by: max(1, full.count / 12)) {
            let ns = try TestNamespace()
            let client = try ns.client()
            // The namespace is not empty (lo, sysctls): plan from what is there, then cut.
            let plan = Planner.plan(desired: desired, observed: try Self.observe(client, desired)).actions
            _ = try client.apply(Array(plan.prefix(cut)))
            let rest = try Self.converge(client, desired)
            #expect(rest.isEmpty, "cut after \(cut) of \(plan.count): \(rest.actions.map(PlanRenderer.line))")
        }
    }

    @Test func badFileChangesNothing() throws {
        let ns = try TestNamespace()
        let before = try ns.ip("-d", "link", "show") + ns.ip("route", "show", "table", "all")
        let havpn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "havpn"
        ).path
        let bad = Self.repository.appendingPathComponent("Tests/Fixtures/bad/17-cidr-host-bits.yaml").path
        #expect(throws: CommandFailed.self) {
            try run(havpn, ["apply", "-f", bad, "--role", "apiserver", "--index", "1", "--netns", ns.name])
        }
        #expect(try ns.ip("-d", "link", "show") + ns.ip("route", "show", "table", "all") == before)
    }
}
