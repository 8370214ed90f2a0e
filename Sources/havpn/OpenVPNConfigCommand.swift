import ArgumentParser
import HAVPNModel
import HAVPNOpenVPN

struct OpenVPNConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openvpn-config",
        abstract: "Print an openvpn config rendered from the topology, so one file drives the whole fabric.",
        discussion: """
            --server I                          the config of VPN server I
            --role R --index N --client I       the config of pod N's client for server I (attaches to tap<I>)
            --client-config-dir                 single mode: the server's client-config-dir entry vpn-shoot-client
                                                (the shoot networks' iroutes)
            """
    )
    @OptionGroup var file: TopologyFileOptions
    @Option(help: "Render the server config of this VPN server index.") var server: Int?
    @Option(help: "Role of the pod the client config is for (apiserver or shoot).") var role: Role?
    @Option(help: "Index of that pod.") var index: Int?
    @Option(help: "Render the pod's client config for this VPN server index.") var client: Int?
    @Flag(help: "Single mode: render the server's client-config-dir entry for vpn-shoot-client.")
    var clientConfigDir = false

    func validate() throws {
        if server == nil && client == nil && !clientConfigDir {
            throw ValidationError("give --server I, --role R --index N --client I, or --client-config-dir")
        }
        if clientConfigDir && (server != nil || client != nil) {
            throw ValidationError("--client-config-dir excludes --server and --client")
        }
        if server != nil && client != nil { throw ValidationError("--server and --client exclude each other") }
        if client != nil && (role == nil || index == nil) { throw ValidationError("--client needs --role and --index") }
    }

    func run() throws {
        let topology = try file.load()
        if clientConfigDir {
            print(try OpenVPNConfig.clientConfigDirEntry(topology: topology), terminator: "")
        } else if let server {
            print(try OpenVPNConfig.server(topology: topology, index: server), terminator: "")
        } else if let client, let role, let index {
            print(
                try OpenVPNConfig.client(topology: topology, role: role, podIndex: index, server: client),
                terminator: ""
            )
        }
    }
}
