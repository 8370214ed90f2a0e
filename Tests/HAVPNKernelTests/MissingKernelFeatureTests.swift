import Foundation
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// Runs on a host whose kernel has no bonding (this project's build machines): creating the bond
/// must fail with an error that names the missing module, and leave nothing behind.
enum HostKernel {
    static var lacksBonding: Bool {
        !KernelLab.isActive && getuid() == 0 && !FileManager.default.fileExists(atPath: "/sys/module/bonding")
            && (try? run("modprobe", ["-n", "bonding"])) == nil
    }
}

@Suite(.enabled(if: HostKernel.lacksBonding, "needs a host kernel without bonding (and root)"))
struct MissingKernelFeatureTests {
    @Test func bondWithoutBondingNamesTheModule() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        let bond = LinkSpec(
            name: "bond0",
            kind: .bond(
                BondSpec(
                    mode: .activeBackup,
                    miimon: 100,
                    failOverMAC: .active,
                    useCarrier: true,
                    primary: nil,
                    numPeerNotif: 5
                )
            ),
            up: false
        )
        let error = #expect(throws: HAVPNError.self) { try client.apply([.createLink(bond)]) }
        #expect(error?.code == .missingKernelFeature)
        #expect(error?.message.contains("bonding") == true)
        #expect(error?.object == "link bond0")
        #expect(try !ns.ip("link", "show").contains("bond0"))
    }
}
