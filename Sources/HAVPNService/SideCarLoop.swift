import HAVPNControl
import HAVPNModel
import HAVPNReconcile
import Logging
import ServiceLifecycle

/// The loop that feeds the core, carries out its effects and hands its observations to the observer
/// (the log lines and metrics).
///
/// It sleeps until the earliest deadline of the core (``SideCarCore/nextDeadline``: the next
/// probe, timeout, fail-back, expiry, announcement, coalesced reconcile or resync) or until
/// something is posted to the inbox, whichever comes first; then it drains the inbox, ticks the
/// core once, and goes back to sleep. No fixed tick: the controllers' proven bounds hold to the
/// scheduler's precision, and an idle side-car wakes only for its own timers.
struct SideCarLoop: Service {
    /// The loop wakes at least this often, so /healthz can tell a stalled loop from an idle one.
    static let heartbeat: Duration = .seconds(2)
    /// How often havpn's packet-filter chains are compared with the last apply (they raise no
    /// rtnetlink event). Drift is repaired within this period + the trigger's `maxDelay` (100 ms) +
    /// one pass: 0.27 s at p99 with nftables on the host against issue 8's 1 s, where a period of
    /// 1 s measured 0.99 s (bench/ruleset.py). In user-mode-linux the iptables pass dominates. Each check is one nftables list of the table or three getsockopt
    /// calls (iptables), no process spawned.
    static let rulesetCheckInterval: Duration = .milliseconds(250)

    var core: SideCarCore
    let io: SideCarIO
    let worker: KernelWorker
    let inbox: SideCarInbox
    let status: SideCarStatus
    /// Logs and counts what the core observed, after every turn.
    let observer: SideCarObserver
    let now: @Sendable () -> Instant
    let logger: Logger

    func run() async throws {
        var core = self.core
        let inbox = self.inbox
        var wakes = inbox.wakes.makeAsyncIterator()
        var alarm: Task<Void, Never>?
        await withDiscardingTaskGroup { group in
            let worker = self.worker
            group.addTask {
                // Packet-filter drift raises no rtnetlink event: compare havpn's chains periodically.
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.rulesetCheckInterval)
                    if await worker.rulesetDrifted() { inbox.post(.ruleset) }
                }
            }
            let started = core.start(at: now())
            observer.observe(core.takeObservations())
            for effect in started { perform(effect, group: &group) }
            await withGracefulShutdownHandler {
                while true {
                    let t = now()
                    let batch = inbox.drain()
                    for case .reconciled(.success(let outcome), _) in batch.completions { io.afterReconcile(outcome) }
                    let step = Self.feed(batch, into: &core, at: t) { io.deviceName(ofInterface: $0) }
                    if case .snapshot? = batch.config { io.update(topology: core.topology) }
                    // Before the effects are carried out, as when the core logged itself: a line
                    // (a switch, a failure) precedes what it causes.
                    observer.observe(core.takeObservations())
                    for effect in step.effects { perform(effect, group: &group) }
                    if step.shutdown { break }
                    status.lastTick.withLock { $0 = ContinuousClock.now }
                    if let path = core.openvpnStatusFile { core.openvpnStatusRead(SideCarIO.readText(path)) }
                    let readiness = core.readiness
                    status.readiness.withLock { $0 = readiness }
                    let document = core.status(at: t, version: status.version)
                    status.document.withLock { $0 = document }
                    observer.metrics.ready.record(readiness.ready ? 1 : 0)

                    // Re-armed on every turn: the deadline moves with every event, and a task is
                    // cheaper than reasoning about a stale alarm.
                    let wakeIn = max(.milliseconds(1), min(core.nextDeadline - now(), Self.heartbeat))
                    alarm?.cancel()
                    alarm = Task {
                        try? await Task.sleep(for: wakeIn)
                        if !Task.isCancelled { inbox.ring() }
                    }
                    guard await wakes.next() != nil else { break }
                }
            } onGracefulShutdown: {
                inbox.complete(.shutdown)
            }
            alarm?.cancel()
            group.cancelAll()
        }
        inbox.finish()
    }

    /// Hands one drained batch to the core: completions first (they free the reconcile lane),
    /// a lost hint as one full resync, the kernel kinds seen, the newest topology reading, the
    /// packets in arrival order, then one tick for whatever fell due. Pure apart from the core.
    static func feed(
        _ batch: SideCarInbox.Batch,
        into core: inout SideCarCore,
        at t: Instant,
        deviceName: (Int32) -> String
    ) -> (effects: [SideCarEffect], shutdown: Bool) {
        var effects: [SideCarEffect] = []
        for completion in batch.completions {
            switch completion {
            case .reconciled(let result, let reasons):
                effects += core.reconciled(result, reasons: reasons, at: t)
            case .shutdown:
                return (effects + core.shutdown(at: t), true)
            }
        }
        if batch.overflowed { effects += core.kernelEvent(.overflow, at: t) }
        // serverTap before link: both trigger the same drift, serverTap also starts the switch hold.
        for event in batch.kernel.sorted(by: { $0 == .serverTap && $1 != .serverTap }) {
            effects += core.kernelEvent(event, at: t)
        }
        switch batch.config {
        case .snapshot(let snapshot)?:
            effects += core.configChanged(yaml: snapshot.content, file: snapshot.resolvedPath, at: t)
        case .unreadable(let message)?:
            core.configRejected(message)
        case nil:
            break
        }
        for packet in batch.packets {
            switch packet {
            case .probeReply(let address, let sequence, let at):
                effects += core.probeReply(from: address, sequence: sequence, at: at)
            case .beacon(let bytes, let server, let source, let at):
                effects += core.beacon(bytes, server: server, from: source, at: at)
            case .datagram(let d, let at):
                effects += core.announcement(
                    from: d.source,
                    device: deviceName(d.interfaceIndex),
                    payload: d.payload,
                    at: at
                )
            }
        }
        effects += core.tick(at: t)
        return (effects, false)
    }

    private func perform(_ effect: SideCarEffect, group: inout DiscardingTaskGroup) {
        switch effect {
        case .sendProbe(let to, let sequence):
            io.prober?.send(to: to, sequence: sequence)
        case .sendBeacon(let server, let bytes, let mac):
            io.beacon(server: server, bytes, to: mac)
        case .sendAnnouncement(let to, let payload):
            io.announce(payload, to: to)
        case .reconcile(let desired, let reasons):
            let worker = self.worker
            let inbox = self.inbox
            group.addTask {
                let result: Result<ReconcileOutcome, any Error>
                do { result = .success(try await worker.apply(desired)) } catch { result = .failure(error) }
                inbox.complete(.reconciled(result, reasons: reasons))
            }
        }
    }
}
