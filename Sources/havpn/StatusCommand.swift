import ArgumentParser
import HAVPNService

enum StatusOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case human
    case json
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "Show a running side-car's view of the fabric (its /status endpoint). Exit 0 ready, 3 not ready, 1 error.",
        discussion: """
            Reads /status from `havpn run`'s HTTP endpoint: role and index, which VPN server the bond uses and each \
            server path's state, the active shoot client and each client's health (apiserver role), tunnels and \
            apiserver peers with their ages, the last reconcile and the backoff. Run it in the pod (kubectl exec) \
            or against a port-forward.
            """
    )
    @Option(help: "The side-car's HTTP endpoint (its /status is read).") var url = "http://127.0.0.1:8080"
    @Option(name: .shortAndLong, help: "Output format: human (tables) or json (the document as served).") var output:
        StatusOutputFormat = .human

    func run() throws {
        let body = try StatusClient.get(url)
        let document = try StatusDocument(json: body)
        // JSON exactly as served (fields a newer side-car adds included); decoded anyway, for the exit code.
        print(output == .json ? String(decoding: body, as: UTF8.self) : StatusRenderer.human(document), terminator: "")
        if !document.ready { throw ExitCode(3) }
    }
}
