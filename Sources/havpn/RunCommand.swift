import ArgumentParser
import FoundationEssentials
import HAVPNModel
import HAVPNService
import Logging
import Metrics

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case human
    case json
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract:
            "Run as the side-car: reconcile continuously, run the path- and tunnel-controllers, serve /healthz /readyz /metrics.",
        discussion: """
            Reconciles at start, on topology file changes (polled; SIGHUP forces a re-read), on kernel drift \
            (rtnetlink events) and on a timer. An invalid new topology is rejected and the last good one keeps \
            running (log line, havpn_config_valid 0, /readyz not ready). SIGTERM/SIGINT shut down gracefully \
            (the apiserver role sends a withdraw announcement).
            """
    )
    @OptionGroup var file: TopologyFileOptions
    @OptionGroup var pod: PodOptions
    @Option(help: "HTTP listen address (default: the topology's http.address).") var httpAddress: String?
    @Option(help: "HTTP listen port (default: the topology's http.port).") var httpPort: Int?
    @Option(help: "Log format: human or json.") var logFormat: LogFormat = .human
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel: Logger.Level =
        .info

    func run() async throws {
        let level = logLevel
        let format = logFormat
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : HumanLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "havpn")
        var options = SideCarOptions(
            topologyPath: file.file,
            role: pod.role,
            index: pod.index,
            bondAddress: pod.bondAddress,
            podName: pod.podName,
            podIPs: pod.podIPs,
            netns: pod.netns,
            httpAddress: httpAddress,
            httpPort: httpPort
        )
        options.firewallBackend = pod.firewallBackend
        options.version = havpnVersion
        options.commit = BuildInfo.commit
        do {
            // swift-metrics is the façade the side-car records through; swift-prometheus is its backend.
            let backend = PrometheusBackend()
            MetricsSystem.bootstrap(backend)
            try await SideCar(options: options, logger: logger, exposition: { backend.registry.emitToBuffer() }).run()
        } catch {
            // The log line is the report (JSON logs stay JSON to the last line).
            logger.critical("havpn run failed", metadata: ["error": "\(error)"])
            throw AlreadyReported()
        }
    }
}
