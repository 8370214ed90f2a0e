import Foundation
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

@testable import HAVPNNetlink

@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct ForeignObjectTests {
    /// Objects havpn did not make are observed as foreign and survive havpn's apply.
    @Test func foreignLinksRoutesAndAddressesSurvive() throws {
        let ns = try TestNamespace()
        try ns.ip("link", "add", "dummy0", "type", "dummy")
        try ns.ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
        try ns.ip("link", "set", "dummy0", "up")
        try ns.ip("route", "add", "10.1.0.0/16", "dev", "dummy0", "proto", "static")
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)
        try ns.ip("addr", "add", "192.0.2.1/24", "dev", "bond0")
        // havpn replaces and deletes its own routes next to the foreign ones.
        var moved = ApiserverFixture.routes[0]
        moved.device = "bond0-ip6tnl1"
        _ = try client.apply([
            .replaceRoute(from: ApiserverFixture.routes[0], to: moved), .deleteRoute(ApiserverFixture.routes[1]),
        ])

        let observed = try client.observe(declaredLinks: ["bond0"], sysctlKeys: [])
        let dummy = try #require(observed.links.first { $0.spec.name == "dummy0" })
        #expect(dummy.spec.kind == .other("dummy") && !dummy.owned && dummy.spec.up)
        #expect(observed.links.contains { $0.spec.name == "veth0" && $0.spec.kind == .other("veth") && !$0.owned })
        let staticRoute = try #require(observed.routes.first { $0.spec.destination == net("10.1.0.0/16") })
        #expect(staticRoute.routeProtocol == 4 && !staticRoute.owned && staticRoute.spec.device == "dummy0")
        let foreignAddress = try #require(observed.addresses.first { $0.spec.address == IPAddress("192.0.2.1") })
        #expect(
            !foreignAddress.owned && foreignAddress.spec.prefixLength == 24 && foreignAddress.spec.device == "bond0"
        )
        #expect(observed.addresses.contains { $0.owned && $0.spec == ApiserverFixture.address })
        // A delete of a route havpn does not own is refused by the kernel (protocol must match).
        let foreignAsOurs = RouteSpec(destination: net("10.1.0.0/16"), device: "dummy0")
        #expect(throws: HAVPNError.self) { try client.apply([.deleteRoute(foreignAsOurs)]) }
        #expect(try ns.ipJSON("route", "show", "10.1.0.0/16").count == 1)
    }
}

@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct ErrorMappingTests {
    @Test func existingNameIsEEXISTWithTheObject() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)
        for spec in [ApiserverFixture.links[2], ApiserverFixture.links[0], ApiserverFixture.tunnel(0)] {
            var report = ApplyReport()
            let error = try #require(throws: HAVPNError.self) { try client.apply([.createLink(spec)], report: &report) }
            #expect(error.code == .kernel)
            #expect(error.errno == EEXIST)
            #expect(error.object == "link \(spec.name)")
            #expect(error.errnoText == "File exists")
            #expect(report.failures.map(\.action) == [.createLink(spec)] && report.applied.isEmpty)
        }
    }

    @Test func unknownDeviceNamesTheRoute() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        let route = RouteSpec(destination: net("10.9.0.0/16"), device: "nosuch0")
        let error = try #require(throws: HAVPNError.self) { try client.apply([.addRoute(route)]) }
        #expect(error.code == .kernel && error.errno == ENODEV)
        #expect(error.object == "route 10.9.0.0/16 dev nosuch0")
    }

    @Test func bondPrimaryCannotBeCleared() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply(ApiserverFixture.creation)
        let error = try #require(throws: HAVPNError.self) {
            try client.apply([.setLink(name: "bond0", change: .bondPrimary(nil), from: "tap0")])
        }
        #expect(error.object == "link bond0")
    }

    @Test func missingNamespaceIsANetnsError() throws {
        let error = try #require(throws: HAVPNError.self) { try NetlinkClient(netns: "havpn-no-such-netns") }
        #expect(error.code == .netns && error.errno == ENOENT)
    }

    /// Kernel 6.1 refuses to enslave an up link (EPERM, "Device can not be enslaved while up");
    /// the client takes it down first, and bond_enslave opens it again.
    @Test func enslavingAnUpTapWorks() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        let bond = LinkSpec(name: "bond0", kind: .bond(ApiserverFixture.bondOptions))
        _ = try client.apply([
            .createLink(LinkSpec(name: "tap0", kind: .tap)),
            .setLink(name: "tap0", change: .up(true), from: "down"),
            .createLink(bond),
            .setLink(name: "tap0", change: .master("bond0"), from: "none"),
        ])
        let tap = try #require(
            try client.observe(declaredLinks: [], sysctlKeys: []).links.first { $0.spec.name == "tap0" }
        )
        #expect(tap.spec.master == "bond0" && tap.spec.up)
    }

    /// Quirk probes: a bond MTU set at creation survives enslaving (the slave takes the bond's
    /// MTU); a primary given at creation is remembered, but the kernel reports it only once that
    /// link is enslaved.
    @Test func bondMTUAndPrimaryAroundEnslaving() throws {
        let ns = try TestNamespace()
        let client = try ns.client()
        _ = try client.apply([
            .createLink(LinkSpec(name: "tap0", kind: .tap)),
            .createLink(LinkSpec(name: "bond0", kind: .bond(ApiserverFixture.bondOptions), mtu: 1380)),
        ])
        func bond() throws -> BondSpec? {
            let link = try client.observe(declaredLinks: [], sysctlKeys: []).links.first { $0.spec.name == "bond0" }
            guard case .bond(let options)? = link?.spec.kind else { return nil }
            return options
        }
        // bond0 itself must be there: a missing bond would make `bond()?.primary == nil` pass vacuously.
        let beforeEnslaving = try #require(try bond(), "bond0 is not observed")
        #expect(beforeEnslaving.primary == nil)
        _ = try client.apply([.setLink(name: "tap0", change: .master("bond0"), from: "none")])
        #expect(try bond()?.primary == "tap0")
        let links = try client.observe(declaredLinks: [], sysctlKeys: []).links
        #expect(links.first { $0.spec.name == "bond0" }?.spec.mtu == 1380)
        #expect(links.first { $0.spec.name == "tap0" }?.spec.mtu == 1380)
        #expect(links.first { $0.spec.name == "lo" }?.spec.kind == .other("loopback"))
    }
}

/// Pure mapping checks; they need no kernel and run everywhere.
struct ErrnoMappingTests {
    @Test func unsupportedLinkKindIsAMissingKernelFeature() {
        let error = KernelErrors.linkCreation(
            EOPNOTSUPP,
            kind: "bond",
            object: "link bond0",
            kernelMessage: "Unknown device type"
        )
        #expect(error.code == .missingKernelFeature && error.message.contains("bonding"))
        #expect(
            KernelErrors.linkCreation(EOPNOTSUPP, kind: "ip6tnl", object: "link t", kernelMessage: nil).message
                .contains("ip6_tunnel")
        )
        #expect(KernelErrors.error(EPERM, "x", object: nil).code == .permission)
    }

}
