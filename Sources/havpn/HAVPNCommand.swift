import ArgumentParser
import HAVPNModel

@main
struct HAVPNCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "havpn",
        abstract: "Declarative reconciler for Gardener's HA reversed-VPN data plane.",
        discussion: """
            One topology file describes the fabric. For its role and index havpn computes the
            desired links, addresses, routes and sysctls of one pod, diffs them against the kernel
            and applies the difference, touching only what it owns (links it declares, routes and
            addresses with protocol \(201)).
            Exit codes: 0 ok / in sync, 1 error, 2 (plan) changes pending.
            """,
        version: "0.1.0",
        subcommands: [
            ValidateCommand.self, PlanCommand.self, ApplyCommand.self, ShowCommand.self, RunCommand.self, OpenVPNConfigCommand.self,
        ]
    )
}
