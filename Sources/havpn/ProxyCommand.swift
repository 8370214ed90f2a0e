import ArgumentParser
import FoundationEssentials
import HAVPNModel
import HAVPNService
import Logging

/// `havpn proxy`: only the CONNECT proxy of a topology, without the reconciler (which needs the
/// kernel and a pod identity). For labs, the benchmark, and a proxy-only container.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract:
            "Serve only the topology's HTTP CONNECT proxy (no reconcile); `havpn run --role server` serves it too.",
        discussion: """
            Relays CONNECT requests to IP literals inside the shoot networks and refuses everything else \
            (see README, CONNECT proxy). The topology must have a proxy section. SIGTERM/SIGINT stop it.
            """
    )
    @OptionGroup var file: TopologyFileOptions
    @Option(
        name: .customLong("pod-ip"),
        help: "This pod's IPs, repeated or comma-separated: never a target (default: $POD_IPS, else $POD_IP)."
    )
    var podIPs: [String] = []
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel: Logger.Level =
        .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = HumanLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "havpn")
        let topology = try file.load()
        let own = try Identity.podIPs(PodOptions.podIPs(flags: podIPs))
        let proxy = try ConnectProxyService(topology: topology, ownAddresses: own, logger: logger)
        try await proxy.runUntilSignalled()
    }
}
