import Foundation
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

@testable import HAVPNNetlink

@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct RoundTripTests {
    @Test func apiserverRoleCreatesAndObservesEveryField() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        let report = try client.apply(ApiserverFixture.creation)
        #expect(report.succeeded)
        #expect(report.applied == ApiserverFixture.creation)

        let desired = ApiserverFixture.desired
        let observed = try client.observe(
            declaredLinks: Set(desired.links.map(\.name)),
            sysctlKeys: desired.sysctls.map(\.key)
        )
        for link in desired.links {
            let seen = try #require(observed.links.first { $0.spec.name == link.name })
            var expected = link
            if expected.mtu == nil { expected.mtu = seen.spec.mtu }
            #expect(seen.spec == expected)
            #expect(seen.owned)
        }
        let ownedAddresses = observed.addresses.filter(\.owned).map(\.spec)
        #expect(ownedAddresses == desired.addresses)
        let ownedRoutes = observed.routes.filter(\.owned).map(\.spec).sorted()
        #expect(ownedRoutes == desired.routes.sorted())
        #expect(observed.sysctls == Dictionary(uniqueKeysWithValues: desired.sysctls.map { ($0.key, $0.value) }))
        // Links havpn did not create (lo, the ip6tnl0 fallback) are observed but not owned.
        #expect(observed.links.contains { $0.spec.name == "lo" && !$0.owned })
    }

    /// The kernel, as iproute2 reads it, shows vpn2's options.
    @Test func kernelShowsVpn2Options() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)

        let bond = try ns.linkDetails("bond0").data
        #expect(bond["mode"] as? String == "active-backup")
        #expect(bond["miimon"] as? Int == 100)
        #expect(bond["fail_over_mac"] as? String == "active")
        #expect(bond["use_carrier"] as? Int == 1)
        #expect(bond["primary"] as? String == "tap0")
        #expect(bond["num_peer_notif"] as? Int == 5 || bond["num_grat_arp"] as? Int == 5)

        let tap = try ns.linkDetails("tap0")
        #expect(tap.link["master"] as? String == "bond0")
        #expect(tap.link["ifalias"] as? String == "havpn")
        #expect((tap.data["type"] as? String) == "tap")
        #expect((tap.link["flags"] as? [String] ?? []).contains("UP"))

        let tunnel = try ns.linkDetails("bond0-ip6tnl1").data
        #expect(tunnel["proto"] as? String == "any")
        #expect(tunnel["local"] as? String == "fd8f:6d53:b97a:1::a:1")
        #expect(tunnel["remote"] as? String == "fd8f:6d53:b97a:1::b:1")
        #expect(tunnel["ip6_tnl_f_ign_encap_limit"] as? Bool == true)

        let routes = try ns.ipJSON("route", "show", "proto", "201")
        let destinations = Set(routes.compactMap { $0["dst"] as? String })
        #expect(destinations == ["100.64.0.0/13", "100.96.0.0/11"])
        #expect(routes.allSatisfy { $0["dev"] as? String == "bond0-ip6tnl0" && $0["scope"] as? String == "link" })

        let addresses = try ns.ipJSON("-6", "addr", "show", "dev", "bond0")
        let info = (addresses.first?["addr_info"] as? [[String: Any]] ?? []).first {
            $0["local"] as? String == "fd8f:6d53:b97a:1::a:1"
        }
        #expect(info?["prefixlen"] as? Int == 104)
        #expect(info?["nodad"] as? Bool == true)
    }

    /// Sysctls are the namespace's own: the lab's initial namespace keeps its value.
    @Test func sysctlsStayInTheirNamespace() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        let key = "net.ipv4.ip_forward"
        let before = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
        let target = before.hasPrefix("1") ? "0" : "1"
        _ = try client.apply([.setSysctl(key: key, from: nil, to: target)])
        #expect(try client.observe(declaredLinks: [], sysctlKeys: [key, "net.no.such.key"]).sysctls == [key: target])
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == before)
        #expect(try run("ip", ["netns", "exec", ns.name, "cat", "/proc/sys/net/ipv4/ip_forward"]).hasPrefix(target))
    }

    /// The package-only initializer works on a namespace made by unshare (no name).
    @Test func clientOnUnnamedNamespace() throws {
        let fd = try NetworkNamespace.makeUnnamed()
        defer { close(fd) }
        let client = try NetlinkClient(netnsFD: fd)
        _ = try client.apply([
            .createLink(LinkSpec(name: "tapx", kind: .tap)), .setLink(name: "tapx", change: .up(true), from: "down"),
        ])
        let links = try client.observe(declaredLinks: [], sysctlKeys: []).links
        #expect(links.contains { $0.spec.name == "tapx" && $0.spec.kind == .tap && $0.spec.up && $0.owned })
        // …and not in the lab's own namespace.
        #expect(try !run("ip", ["link", "show"]).contains("tapx"))
    }
}
