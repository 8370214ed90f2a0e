import ArgumentParser
import FoundationEssentials
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNService

extension Role: ExpressibleByArgument {}
extension FirewallBackend: ExpressibleByArgument {}

/// Flags shared by every command that reads a topology file.
struct TopologyFileOptions: ParsableArguments {
    @Option(name: [.short, .customLong("file")], help: "Topology YAML file.", completion: .file())
    var file: String

    func load() throws(HAVPNError) -> Topology {
        let bytes = try FileContents.read(file, what: "topology file")
        return try TopologyDecoder.decode(yaml: bytes, file: file)
    }

    /// ``load()`` for a command that exits when done and reads the kernel (plan, apply): the heap is prepared
    /// for the topology's size first (see ``OneShotHeap``). Not for `run` and `proxy`, which live long.
    func loadForOneShot() throws(HAVPNError) -> Topology {
        let bytes = try FileContents.read(file, what: "topology file")
        OneShotHeap.prepare(topologyBytes: bytes.count)
        return try TopologyDecoder.decode(yaml: bytes, file: file)
    }
}

/// Which pod this process configures, and where.
struct PodOptions: ParsableArguments {
    @Option(help: "Role of this pod: apiserver, shoot or server.")
    var role: Role

    @Option(
        help: "Index within the role (shoot/server ordinal, apiserver 1...65535). Default: from --pod-name / --pod-ip."
    )
    var index: Int?

    @Option(help: "apiserver role: own bond address (…::a:<index>), instead of --index.")
    var bondAddress: String?

    @Option(name: .customLong("pod-name"), help: "Pod name whose numeric suffix is the ordinal (default: $POD_NAME).")
    var podNameFlag: String?

    @Option(
        name: .customLong("pod-ip"),
        help: """
            Pod IP, repeated or comma-separated for a dual-stack pod, primary first (default: $POD_IPS, \
            else $POD_IP). All are announced; the apiserver role derives its index from the first when \
            no --index is given.
            """
    )
    var podIPFlags: [String] = []

    // The environment is read when used, not as a flag default: a flag default is evaluated
    // when the parser is built (and argument-parser deprecates optional flags with defaults).
    var podName: String? { podNameFlag ?? ProcessInfo.processInfo.environment["POD_NAME"] }
    var podIPs: [String] { Self.podIPs(flags: podIPFlags) }

    /// `--pod-ip` values, else $POD_IPS (the downward API's `status.podIPs`, comma-separated), else $POD_IP.
    static func podIPs(flags: [String]) -> [String] {
        let environment = ProcessInfo.processInfo.environment
        if !flags.isEmpty { return flags }
        if let list = environment["POD_IPS"], !list.isEmpty { return [list] }
        return environment["POD_IP"].map { [$0] } ?? []
    }

    @Option(help: "Run in the named network namespace (/run/netns/NAME).")
    var netns: String?

    @Option(help: "Packet filter backend: auto, nftables or iptables (default: the topology's filter.backend).")
    var firewallBackend: FirewallBackend?

    func identity(in topology: Topology) throws(HAVPNError) -> Identity {
        try Identity.resolve(
            role: role,
            index: index,
            bondAddress: bondAddress,
            podName: podName,
            podIP: try Identity.podIPs(podIPs).first?.description,
            topology: topology
        )
    }
}

/// What `plan` and `apply` can print.
enum PlanOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case human
    case json
}

/// What `show` can print.
enum StateOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case yaml
    case json
}

/// A failure the command has already reported (for example as a JSON log line): the top level
/// only exits with its code and prints nothing more.
struct AlreadyReported: Error {
    var exitCode: Int32 = 1
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { HAVPNService.writeStandardError(string) }
}
