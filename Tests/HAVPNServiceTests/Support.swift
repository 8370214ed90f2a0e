import Foundation
import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import HAVPNReconcile
import Logging
import MetricsTestKit

@testable import HAVPNService

enum Fixture {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let exampleYAML: String = {
        let url = repositoryRoot.appendingPathComponent("examples/ha-2x2-ipv4.yaml")
        return try! String(contentsOf: url, encoding: .utf8)
    }()

    static var exampleTopology: Topology { try! TopologyDecoder.decode(yaml: exampleYAML, file: "example") }

    static let silentLogger = Logger(label: "havpn.test") { _ in SwiftLogNoOpLogHandler() }

    static func exampleYAML(replacing old: String, with new: String) -> String {
        precondition(exampleYAML.contains(old), "the example no longer contains \(old)")
        return exampleYAML.replacingOccurrences(of: old, with: new)
    }
}

extension ReconcileOutcome {
    static let converged = ReconcileOutcome(plan: Plan(), applied: [], remaining: Plan(), duration: .milliseconds(1))
}

/// The value the side-car last recorded for a sample written as in the Prometheus text,
/// e.g. `name` or `name{reason="x"}`: a counter's total, a gauge's last value; nil if never made.
func metricValue(_ metrics: TestMetrics, _ sample: String) -> Double? {
    var label = sample
    var dimensions: [(String, String)] = []
    if let open = sample.firstIndex(of: "{") {
        label = String(sample[..<open])
        for pair in sample[sample.index(after: open)..<sample.index(before: sample.endIndex)].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            dimensions.append((String(kv[0]), String(kv[1].dropFirst().dropLast())))
        }
    }
    if let counter = try? metrics.expectCounter(label, dimensions) { return Double(counter.totalValue) }
    if let gauge = try? metrics.expectGauge(label, dimensions) { return gauge.lastValue }
    return nil
}

struct RecordedReconcile {
    var at: Instant
    var desired: DesiredState
    var reasons: ReconcileReasons
}

/// Drives a `SideCarCore` in simulated time and plays the world: answers probes and beacons as
/// told, records effects, completes reconciles (at once, converged) unless told not to. Plays the
/// loop's observer too: ``observations`` and ``metrics`` first drain what the core recorded since.
final class Simulation {
    var core: SideCarCore
    private let testMetrics = TestMetrics()
    private let observer: SideCarObserver
    private var drained: [SideCarObservation] = []
    var now: Instant = .zero
    /// The wall clock the shell would read at start (28 Nov 2026).
    let wallClockMilliseconds: Int64 = 1_795_900_000_000
    var effects: [(at: Instant, effect: SideCarEffect)] = []
    var reconciles: [RecordedReconcile] = []
    var completeReconciles = true
    /// When set, every reconcile completes with this error instead of converging.
    var reconcileFailure: HAVPNError?
    var answerProbe: (Int) -> Bool = { _ in false }
    var answerBeacon: (Int) -> Bool = { _ in false }
    var beaconPeer: (role: Role, index: Int) = (.shoot, 0)

    init(
        role: Role,
        index: Int,
        yaml: String = Fixture.exampleYAML,
        podIPs: [IPAddress] = [],
        learned: ControllerInputs = ControllerInputs()
    ) throws {
        let topology = try TopologyDecoder.decode(yaml: yaml, file: "test.yaml")
        core = SideCarCore(
            topology: topology,
            identity: Identity(role: role, index: index),
            podIPs: podIPs,
            key: nil,
            learned: learned,
            wallClockMilliseconds: wallClockMilliseconds,
            at: now
        )
        observer = SideCarObserver(
            logger: Fixture.silentLogger,
            metrics: SideCarMetrics(factory: testMetrics, role: role)
        )
    }

    /// Every observation the core recorded so far, oldest first.
    var observations: [SideCarObservation] {
        drain()
        return drained
    }

    /// The metrics as the observer recorded them from the observations so far.
    var metrics: TestMetrics {
        drain()
        return testMetrics
    }

    /// Forgets the observations so far (after the observer saw them): a test then reads what follows.
    func clearObservations() {
        drain()
        drained.removeAll()
    }

    private func drain() {
        let new = core.takeObservations()
        observer.observe(new)
        drained += new
    }

    var plan: AddressPlan { core.plan }

    func start() { process(core.start(at: now)) }

    func tick() { process(core.tick(at: now)) }

    /// Ticks every `step` for `duration`.
    func advance(by duration: Duration, step: Duration = .milliseconds(20)) {
        let end = now + duration
        while now < end {
            now += step
            tick()
        }
    }

    /// Ticks every `step` until a reconcile matching `predicate` appears; returns it, or nil after `limit`.
    func advance(
        until predicate: (RecordedReconcile) -> Bool,
        within limit: Duration,
        step: Duration = .milliseconds(20)
    ) -> RecordedReconcile? {
        let end = now + limit
        let seen = reconciles.count
        while now < end {
            now += step
            tick()
            if let hit = reconciles[seen...].first(where: predicate) { return hit }
        }
        return nil
    }

    /// Like the run loop: jumps straight to the core's next deadline (no fixed tick) until
    /// `predicate` holds for a new reconcile; returns it, or nil after `limit`. Also counts the wake-ups.
    func advanceByDeadlines(
        until predicate: (RecordedReconcile) -> Bool = { _ in false },
        within limit: Duration
    ) -> (hit: RecordedReconcile?, wakeUps: Int) {
        let end = now + limit
        let seen = reconciles.count
        var wakeUps = 0
        while now < end {
            now = max(now + .nanoseconds(1), min(core.nextDeadline, end))
            wakeUps += 1
            tick()
            if let hit = reconciles[seen...].first(where: predicate) { return (hit, wakeUps) }
        }
        return (nil, wakeUps)
    }

    func process(_ new: [SideCarEffect]) {
        var queue = new[...]
        while let effect = queue.popFirst() {
            effects.append((now, effect))
            switch effect {
            case .sendProbe(let to, let sequence):
                if let client = plan.shootClientIndex(ofBondAddress: to), answerProbe(client) {
                    queue += core.probeReply(from: to, sequence: sequence, at: now)
                }
            case .sendBeacon(let server, let bytes, _):
                if let request = PathBeacon(bytes: bytes), request.kind == .request, request.role == core.identity.role,
                    answerBeacon(server)
                {
                    queue += core.beacon(
                        request.reply(role: beaconPeer.role, index: beaconPeer.index).bytes,
                        server: server,
                        at: now
                    )
                }
            case .sendAnnouncement:
                break
            case .reconcile(let desired, let reasons):
                reconciles.append(RecordedReconcile(at: now, desired: desired, reasons: reasons))
                if completeReconciles {
                    let result: Result<ReconcileOutcome, any Error> =
                        reconcileFailure.map { .failure($0) } ?? .success(.converged)
                    queue += core.reconciled(result, reasons: reasons, at: now)
                }
            }
        }
    }
}

/// The shoot clients that answer probes in a ``Simulation``; a test cuts one by removing it.
final class LiveClients {
    var clients: Set<Int>
    init(_ clients: Set<Int>) { self.clients = clients }
}

extension Simulation {
    /// Apiserver 1, started, every server path answering beacons and the shoot clients in `clients`
    /// (at first both) answering probes.
    static func apiserverWithLiveClients() throws -> (Simulation, LiveClients) {
        let sim = try Simulation(role: .apiserver, index: 1)
        let live = LiveClients([0, 1])
        sim.answerProbe = { live.clients.contains($0) }
        sim.answerBeacon = { _ in true }
        sim.start()
        return (sim, live)
    }
}

extension DesiredState {
    var linkNames: [String] { links.map(\.name) }
    var routeDevices: Set<String> { Set(routes.map(\.device)) }
    var bondPrimary: String? {
        for link in links { if case .bond(let spec) = link.kind { return spec.primary } }
        return nil
    }
}

extension SideCarEffect {
    var isReconcile: Bool { if case .reconcile = self { true } else { false } }
    var desired: DesiredState? { if case .reconcile(let d, _) = self { d } else { nil } }
}

extension SideCarObservation {
    var isShootClientSwitch: Bool { if case .shootClientSwitched = self { true } else { false } }
    var isAddressConflict: Bool { if case .addressConflict = self { true } else { false } }
    var isAddressConflictCount: Bool { if case .addressConflicts = self { true } else { false } }
    var isApiserverPeersChange: Bool { if case .apiserverPeersChanged = self { true } else { false } }
}

extension SideCarCore {
    /// The tests write topologies as strings; the loop hands over the file's bytes.
    mutating func configChanged(yaml: String, file: String, at now: Instant) -> [SideCarEffect] {
        configChanged(yaml: Array(yaml.utf8), file: file, at: now)
    }
}
