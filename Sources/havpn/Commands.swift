import ArgumentParser
import FoundationEssentials
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a topology file; prints one line per error with file:line:column."
    )
    @OptionGroup var file: TopologyFileOptions

    func run() throws {
        // Plain: validate only decodes, and its cost is judged on a server, where pre-faulting the
        // heap costs more than the faults it saves (0.3–0.7 ms for the 10,000-IP file).
        let t = try file.load()
        if t.mode == .single {
            print(
                "\(file.file): ok (mode single: one server and one vpn-shoot on \(t.devices.tun), tun network \(t.transport.network))"
            )
        } else {
            print(
                "\(file.file): ok (\(t.servers) servers, \(t.shootClients) shoot clients, transport \(t.transport.network))"
            )
        }
    }
}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what apply would change (dry run). Exit 0 in sync, 2 changes pending, 1 error."
    )
    @OptionGroup var file: TopologyFileOptions
    @OptionGroup var pod: PodOptions
    @OptionGroup var planOptions: PlanOptions

    func run() throws {
        let session = try Session(file: file, pod: pod)
        let (desired, observed) = try session.desiredAndObserved(activeClient: planOptions.activeClient)
        let plan = Planner.plan(desired: desired, observed: observed)
        print(planOptions.output == .json ? PlanRenderer.json(plan) : PlanRenderer.human(plan), terminator: "")
        if !plan.isEmpty || !plan.conflicts.isEmpty { throw ExitCode(2) }
    }
}

/// Flags shared by `plan` and `apply`.
struct PlanOptions: ParsableArguments {
    @Option(help: "apiserver role: shoot client to route through (default: the one the routes use now, else 0).")
    var activeClient: Int?
    @Option(name: .shortAndLong, help: "Output format.") var output: PlanOutputFormat = .human
}

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Converge the kernel to the topology once, then verify that nothing is left to do."
    )
    @OptionGroup var file: TopologyFileOptions
    @OptionGroup var pod: PodOptions
    @OptionGroup var planOptions: PlanOptions

    func run() throws {
        let session = try Session(file: file, pod: pod)
        let (desired, observed) = try session.desiredAndObserved(activeClient: planOptions.activeClient)
        let outcome = try session.reconciler.apply(desired, observed: observed)
        let conflicts = outcome.remaining.conflicts
        if planOptions.output == .json {
            print(PlanRenderer.json(Plan(actions: outcome.applied, conflicts: outcome.plan.conflicts)), terminator: "")
        } else if outcome.applied.isEmpty && conflicts.isEmpty && outcome.converged {
            print("No changes. Kernel state matches the topology.")
        } else if !outcome.applied.isEmpty {
            for action in outcome.applied { print(PlanRenderer.line(action)) }
            let s = Plan(actions: outcome.applied).summary
            print("Apply complete: \(s.add) added, \(s.change) changed, \(s.destroy) destroyed in \(outcome.duration).")
        }
        // Single mode: routes through openvpn's tun0 wait for it; not an error, the run loop adds them later.
        if planOptions.output != .json {
            for line in outcome.remaining.waiting { print("# waiting: \(line)") }
        }
        // A conflict is a foreign object holding a key havpn wants: reported as such, like plan's exit 2.
        if !conflicts.isEmpty {
            var stderr = StandardError()
            for conflict in conflicts { print("havpn: \(conflict)", to: &stderr) }
            throw AlreadyReported(exitCode: 2)
        }
        if !outcome.converged {
            throw HAVPNError(
                .verifyFailed,
                "kernel does not match the topology after apply; still pending: "
                    + outcome.remaining.actions.map(PlanRenderer.line).joined(separator: "; ")
            )
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the kernel state havpn owns (links with its alias, addresses and routes with its protocol)."
    )
    @Option(help: "Run in the named network namespace.") var netns: String?
    @Option(name: .shortAndLong, help: "Output format.") var output: StateOutputFormat = .yaml

    func run() throws {
        let observed = try Reconciler(netlink: try NetlinkClient(netns: netns)).observeOwned()
        print(output == .json ? StateRenderer.json(observed) : StateRenderer.yaml(observed), terminator: "")
    }
}
