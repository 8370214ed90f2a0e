import ArgumentParser
import HAVPNModel

/// The release this source is; the commit comes from the build (BuildInfoPlugin).
let havpnVersion = "0.1.0"

@main
struct HAVPNCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "havpn",
        abstract: "Declarative reconciler for Gardener's HA reversed-VPN data plane.",
        // Paragraphs are single lines: the help formatter wraps them to the terminal itself.
        discussion: """
            One topology file describes the fabric. For its role and index havpn computes the desired links, \
            addresses, routes and sysctls of one pod, diffs them against the kernel and applies the difference, \
            touching only what it owns (links it declares, routes and addresses with protocol 201).

            Exit codes: 0 ok or in sync; 1 error (one line on stderr: error[code]: ...); \
            2 changes pending (plan) or a conflict with a foreign object (plan, apply); 3 not ready (status); 64 usage error.
            """,
        version: "\(havpnVersion) (commit \(BuildInfo.commit))",
        subcommands: [
            ValidateCommand.self, PlanCommand.self, ApplyCommand.self, ShowCommand.self, RunCommand.self,
            StatusCommand.self, OpenVPNConfigCommand.self,
            ProxyCommand.self,
        ]
    )

    /// Every command returns its failure here: a havpn error is printed as its one line
    /// (`havpn: error[code]: ...`) and exits 1; argument-parser's own errors (usage, help,
    /// explicit exit codes) keep their messages and codes.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let reported as AlreadyReported {
            exit(withError: ExitCode(reported.exitCode))
        } catch let error as HAVPNError {
            var stderr = StandardError()
            print("havpn: \(error)", to: &stderr)
            exit(withError: ExitCode.failure)
        } catch {
            exit(withError: error)
        }
    }
}
