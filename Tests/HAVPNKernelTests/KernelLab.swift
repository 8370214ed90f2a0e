import Foundation
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNTestSupport
import Testing

/// The real-kernel lab (lab/umlrun via scripts/kernel-tests) sets HAVPN_KERNEL_LAB=1. Outside it
/// the host kernel may lack bonding/ip6tnl and the tests would change the host: they skip.
enum KernelLab {
    static var isActive: Bool { ProcessInfo.processInfo.environment["HAVPN_KERNEL_LAB"] == "1" }
}

extension TestNamespace {
    func client() throws -> NetlinkClient { try NetlinkClient(netns: name) }

    /// `ip -n NS -j ARGS`, parsed.
    func ipJSON(_ arguments: String...) throws -> [[String: Any]] {
        let text = try run("ip", ["-n", name, "-j"] + arguments)
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return value as? [[String: Any]] ?? []
    }

    /// The `linkinfo.info_data` of one link from `ip -d -j link show`.
    func linkDetails(_ link: String) throws -> (link: [String: Any], data: [String: Any]) {
        let entry = try #require(try ipJSON("-d", "link", "show", "dev", link).first)
        let info = entry["linkinfo"] as? [String: Any] ?? [:]
        return (entry, info["info_data"] as? [String: Any] ?? [:])
    }
}

func ipv6(_ text: String) -> IPv6Address { IPv6Address(text)! }
func net(_ text: String) -> IPNetwork { IPNetwork(text)! }
