import Foundation
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Synchronization
import Testing

@testable import HAVPNNetlink

/// Collects a monitor's events; tests poll it with a deadline.
private final class EventLog: Sendable {
    private let events = Mutex<[KernelEvent]>([])

    func append(_ event: KernelEvent) { events.withLock { $0.append(event) } }

    /// Waits until `event` has been seen, polling every 10 ms for at most `seconds`.
    func waitFor(_ event: KernelEvent, seconds: Double = 5) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if events.withLock({ $0.contains(event) }) { return true }
            usleep(10_000)
        }
        return events.withLock { $0.contains(event) }
    }
}

@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct EventMonitorTests {
    /// The libnl monitor sees havpn's own route, a server tap and an address change in a fresh
    /// namespace.
    @Test func routeTapAndAddressChangesAreSeen() throws {
        let ns = try TestNamespace()
        try ns.ip("link", "add", "dummy0", "type", "dummy")
        try ns.ip("link", "set", "dummy0", "up")
        let monitor = try NetlinkEventMonitor(netns: ns.name, tapPrefix: "tap")
        defer { monitor.close() }
        let log = EventLog()
        monitor.start { log.append($0) }

        _ = try ns.client().apply([.addRoute(RouteSpec(destination: net("10.9.0.0/16"), device: "dummy0"))])
        #expect(log.waitFor(.ownedRoute))
        try ns.ip("tuntap", "add", "tap3", "mode", "tap")
        #expect(log.waitFor(.serverTap))
        try ns.ip("addr", "add", "192.0.2.1/24", "dev", "dummy0")
        #expect(log.waitFor(.address))
    }

    /// Events that pile up beyond a tiny receive buffer are dropped by the kernel, which then
    /// fails the next receive with ENOBUFS: the monitor turns that into `.overflow`.
    @Test func overflowBecomesAResyncSignal() throws {
        let ns = try TestNamespace()
        try ns.ip("link", "add", "dummy0", "type", "dummy")
        try ns.ip("link", "set", "dummy0", "up")
        // The kernel rounds the size up to its minimum (a few KiB): a handful of events.
        let monitor = try NetlinkEventMonitor(netns: ns.name, tapPrefix: "tap", receiveBuffer: 1)
        defer { monitor.close() }
        // Not reading yet: 300 route events overflow the buffer.
        let routes = (0..<300).map {
            PlanAction.addRoute(RouteSpec(destination: net("10.\($0 / 256).\($0 % 256).0/24"), device: "dummy0"))
        }
        _ = try ns.client().apply(routes)
        let log = EventLog()
        monitor.start { log.append($0) }
        #expect(log.waitFor(.overflow))
    }
}

@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct ExtendedAckTests {
    /// A route through a link that is down fails with ENETDOWN and the kernel's own reason; in a
    /// batch, the reason reaches the action whose request failed (matched by sequence number),
    /// and the request before it is applied.
    @Test func kernelTextReachesTheFailedAction() throws {
        let ns = try TestNamespace()
        try ns.ip("link", "add", "up0", "type", "dummy")
        try ns.ip("link", "set", "up0", "up")
        try ns.ip("link", "add", "down0", "type", "dummy")
        let good = RouteSpec(destination: net("10.8.0.0/16"), device: "up0")
        let bad = RouteSpec(destination: net("10.9.0.0/16"), device: "down0")
        var report = ApplyReport()
        let error = try #require(throws: HAVPNError.self) {
            try ns.client().apply([.addRoute(good), .addRoute(bad)], report: &report)
        }
        #expect(error.errno == ENETDOWN)
        #expect(error.message.contains("cannot add route: "), "\(error)")
        #expect(error.message.lowercased().contains("not up"), "kernel text missing: \(error)")
        #expect(error.object == "route 10.9.0.0/16 dev down0")
        #expect(report.applied == [.addRoute(good)])
        #expect(report.failures.map(\.action) == [.addRoute(bad)])
    }
}
