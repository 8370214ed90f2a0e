import ArgumentParser
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner

struct HAVPN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "havpn",
        abstract: "Declarative reconciler for Gardener's HA reversed-VPN data plane."
    )
}
HAVPN.main()
