import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import Testing

@testable import HAVPNService

@Suite struct SideCarCoreAnnouncementTests {
    /// The example with `announcements.format: vpn2`: the shoot side accepts only the configured format.
    static let vpn2YAML = Fixture.exampleYAML(replacing: "format: havpn", with: "format: vpn2")

    @Test func theOtherFormatIsRejected() throws {
        let sim = try Simulation(role: .shoot, index: 0)  // format: havpn
        sim.start()
        sim.process(
            sim.core.announcement(from: apiserver, device: "bond0", payload: Array("10.1.0.9".utf8), at: sim.now)
        )
        #expect(
            sim.advance(until: { $0.desired.linkNames.contains("bond0ip6tnl0007") }, within: .milliseconds(500)) == nil
        )
        #expect(sim.observations.contains(.announcementRejected(source: apiserver, reason: .formatNotAccepted)))
        #expect(!sim.observations.contains(.announcementAccepted))
    }

    @Test func apiserversDeclaredInTheFileCountAsKnown() throws {
        let sim = try Simulation(role: .shoot, index: 0)
        sim.start()
        sim.advance(by: .milliseconds(200))
        #expect(!sim.core.readiness.reasons.contains("no apiserver known yet"))
    }

    let apiserver = IPv6Address("fd8f:6d53:b97a:1::a:7")!
    let podIP = IPAddress("10.1.0.9")!

    @Test func twoPodsAnnouncingOneBondAddressAreObservedAsAConflict() throws {
        let yaml = Self.vpn2YAML.replacingOccurrences(
            of: "apiservers:\n  - index: 1\n    podIPs: [10.1.0.5]\n",
            with: ""
        )
        let sim = try Simulation(role: .shoot, index: 0, yaml: yaml)
        sim.start()
        for ip in ["10.1.0.9", "10.1.0.10", "10.1.0.9"] {
            sim.process(sim.core.announcement(from: apiserver, device: "bond0", payload: Array(ip.utf8), at: sim.now))
            sim.advance(by: .milliseconds(100))
        }
        #expect(sim.observations.filter(\.isAddressConflict).isEmpty)
        #expect(sim.observations.last(where: \.isAddressConflictCount) == .addressConflicts(count: 0))
        sim.clearObservations()
        sim.process(
            sim.core.announcement(from: apiserver, device: "bond0", payload: Array("10.1.0.10".utf8), at: sim.now)
        )
        let conflict = TunnelRegistry.AddressConflict(
            bondAddress: apiserver,
            podIPs: [IPAddress("10.1.0.10")!],
            rivalPodIPs: [IPAddress("10.1.0.9")!]
        )
        #expect(sim.observations.filter(\.isAddressConflict) == [.addressConflict(conflict)])
        #expect(sim.observations.last(where: \.isAddressConflictCount) == .addressConflicts(count: 1))
        sim.advance(by: .seconds(61), step: .milliseconds(500))
        #expect(sim.observations.filter(\.isAddressConflict).count == 1)  // once per conflict
        #expect(sim.observations.last(where: \.isAddressConflictCount) == .addressConflicts(count: 0))
    }

    @Test func vpn2AnnouncementCreatesATunnelUntilItsLifetimeEnds() throws {
        // No apiserver declared in the file: the shoot pod knows only what is announced.
        let yaml = Self.vpn2YAML.replacingOccurrences(
            of: "apiservers:\n  - index: 1\n    podIPs: [10.1.0.5]\n",
            with: ""
        )
        let sim = try Simulation(role: .shoot, index: 0, yaml: yaml)
        sim.start()
        sim.advance(by: .milliseconds(200))
        #expect(sim.core.readiness.reasons.contains("no apiserver known yet"))
        #expect(!sim.core.readiness.ready)

        sim.process(
            sim.core.announcement(from: apiserver, device: "bond0", payload: Array("10.1.0.9".utf8), at: sim.now)
        )
        let learned = try #require(
            sim.advance(until: { $0.desired.linkNames.contains("bond0ip6tnl0007") }, within: .milliseconds(200))
        )
        let route = try #require(learned.desired.routes.first { $0.destination == IPNetwork(host: podIP) })
        #expect(route.device == "bond0ip6tnl0007")
        #expect(route.destination.prefixLength == 32)
        #expect(sim.observations.filter { $0 == .announcementAccepted }.count == 1)
        #expect(sim.observations.last(where: \.isApiserverPeersChange) == .apiserverPeersChanged(count: 1))
        #expect(sim.core.readiness == Readiness(ready: true))

        sim.advance(by: .seconds(61), step: .milliseconds(500))
        let last = try #require(sim.reconciles.last)
        #expect(!last.desired.linkNames.contains("bond0ip6tnl0007"))
        #expect(!last.desired.routes.contains { $0.destination == IPNetwork(host: podIP) })
        #expect(sim.core.currentPeers.isEmpty)
        #expect(!sim.core.readiness.ready)
    }

    @Test func announcementsFromOutsideTheBondNetworkOrOnAnotherDeviceAreRejected() throws {
        let sim = try Simulation(role: .shoot, index: 0)
        sim.start()
        let payload = Array("10.1.0.9".utf8)
        sim.process(
            sim.core.announcement(from: IPv6Address("fd00::a:7")!, device: "bond0", payload: payload, at: sim.now)
        )
        sim.process(sim.core.announcement(from: apiserver, device: "eth0", payload: payload, at: sim.now))
        sim.process(
            sim.core.announcement(
                from: IPv6Address("fd8f:6d53:b97a:1::b:1")!,
                device: "bond0",
                payload: payload,
                at: sim.now
            )
        )
        let seen = sim.reconciles.count
        sim.advance(by: .milliseconds(300))
        #expect(
            sim.reconciles[seen...].allSatisfy {
                !$0.desired.linkNames.contains("bond0ip6tnl0007") && !$0.reasons.contains(.controllerInput)
            }
        )
        #expect(sim.core.currentPeers.isEmpty)
        let rejections = sim.observations.filter {
            if case .announcementRejected = $0 { true } else { false }
        }
        #expect(
            rejections == [
                .announcementRejected(source: IPv6Address("fd00::a:7")!, reason: .sourceOutsideBondNetwork),
                .announcementRejected(source: apiserver, reason: .wrongDevice),
                .announcementRejected(source: IPv6Address("fd8f:6d53:b97a:1::b:1")!, reason: .sourceNotApiserver),
            ]
        )
        #expect(!sim.observations.contains(.announcementAccepted))
    }

    @Test func apiserverSendsAnnouncementsToEveryShootClient() throws {
        let sim = try Simulation(role: .apiserver, index: 1, podIPs: [IPAddress("10.1.0.5")!])
        sim.start()
        let targets = sim.effects.compactMap { if case .sendAnnouncement(let to, _) = $0.effect { to } else { nil } }
        #expect(targets == [sim.plan.shootClientBondAddress(0), sim.plan.shootClientBondAddress(1)])
        #expect(sim.observations.filter { $0 == .announcementSent }.count == 2)
        let withdraws = sim.core.shutdown(at: sim.now)
        #expect(withdraws.count == 2)
        #expect(sim.observations.filter { $0 == .announcementSent }.count == 4)
    }

    @Test func learnedPeersSurviveAReloadThatRebuildsTheRegistry() throws {
        let sim = try Simulation(role: .shoot, index: 0, yaml: Self.vpn2YAML)
        sim.start()
        sim.process(
            sim.core.announcement(from: apiserver, device: "bond0", payload: Array("10.1.0.9".utf8), at: sim.now)
        )
        #expect(
            sim.advance(until: { $0.desired.linkNames.contains("bond0ip6tnl0007") }, within: .milliseconds(200)) != nil
        )

        let longer = Self.vpn2YAML.replacingOccurrences(of: "lifetime: 60s", with: "lifetime: 90s")
        sim.process(sim.core.configChanged(yaml: longer, file: "t", at: sim.now))
        let reload = try #require(
            sim.advance(until: { $0.reasons.contains(.configChanged) }, within: .milliseconds(200))
        )
        #expect(reload.desired.linkNames.contains("bond0ip6tnl0007"))
        #expect(sim.core.readiness.ready)
        sim.advance(by: .seconds(91), step: .milliseconds(500))
        #expect(sim.reconciles.last?.desired.linkNames.contains("bond0ip6tnl0007") == false)
    }

    @Test func renamedBondAcceptsAnnouncementsOnTheNewDevice() throws {
        let sim = try Simulation(role: .shoot, index: 0, yaml: Self.vpn2YAML)
        sim.start()
        let renamed = Self.vpn2YAML.replacingOccurrences(of: "  bond: bond0\n", with: "  bond: bond1\n")
        sim.process(sim.core.configChanged(yaml: renamed, file: "t", at: sim.now))
        #expect(sim.advance(until: { $0.desired.linkNames.contains("bond1") }, within: .milliseconds(200)) != nil)
        sim.process(
            sim.core.announcement(from: apiserver, device: "bond1", payload: Array("10.1.0.9".utf8), at: sim.now)
        )
        #expect(
            sim.advance(until: { $0.desired.linkNames.contains("bond0ip6tnl0007") }, within: .milliseconds(200)) != nil
        )
    }

    @Test func announcementSequenceStartsAboveThePreviousProcess() throws {
        let sim = try Simulation(role: .apiserver, index: 1, podIPs: [IPAddress("10.1.0.5")!])
        sim.start()
        let payload = try #require(
            sim.effects.lazy.compactMap { if case .sendAnnouncement(_, let p) = $0.effect { p } else { nil } }.first
        )
        guard case .success(.havpn(let message, _)) = AnnouncementCodec.decode(payload) else {
            Issue.record("not a havpn announcement")
            return
        }
        #expect(message.sequence >= UInt64(sim.wallClockMilliseconds) << 16)
    }

    @Test func learnedPeersSurviveARestartForOneLifetime() throws {
        let peer = ApiserverPeer(bondAddress: apiserver, podIPs: [podIP])
        let sim = try Simulation(role: .shoot, index: 0, learned: ControllerInputs(apiserverPeers: [peer]))
        sim.start()
        #expect(sim.reconciles.first?.desired.linkNames.contains("bond0ip6tnl0007") == true)
        sim.advance(by: .seconds(61), step: .milliseconds(500))
        #expect(sim.reconciles.last?.desired.linkNames.contains("bond0ip6tnl0007") == false)
    }
}
