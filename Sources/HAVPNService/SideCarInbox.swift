import HAVPNControl
import HAVPNModel
import HAVPNReconcile
import Synchronization

/// What reaches the run loop, in two lanes.
///
/// **Completions** (a reconcile finished, shut down) are never dropped: losing a `.reconciled`
/// would leave the core believing a pass is in flight and stop reconciling for good. At most one
/// reconcile is in flight and shutdown comes once, so this lane is bounded by construction.
///
/// **Hints** may be coalesced or lost without harm, because the reconcile pass re-reads the
/// kernel: kernel events collapse into the set of kinds seen, the topology file into its newest
/// reading, packets (probe replies, beacons, announcements) queue up to `packetCapacity`. A packet
/// beyond that is dropped and turns into one full resync, as a netlink overflow does.
///
/// Posting never blocks and never suspends (the receive threads call it); the loop drains
/// everything at once and then waits on ``wakes`` until the next post or its own alarm.
final class SideCarInbox: Sendable {
    enum Completion: Sendable {
        case reconciled(Result<ReconcileOutcome, any Error>, reasons: ReconcileReasons)
        case shutdown
    }

    enum ConfigReading: Sendable {
        case snapshot(ConfigSnapshot)
        case unreadable(String)
    }

    enum Packet: Sendable {
        case probeReply(IPv6Address, UInt16, at: Instant)
        case beacon([UInt8], server: Int, from: [UInt8], at: Instant)
        case datagram(ReceivedDatagram, at: Instant)
    }

    /// Everything posted since the last drain.
    struct Batch: Sendable {
        var completions: [Completion] = []
        /// Newest reading of the topology file, if it was read since.
        var config: ConfigReading?
        var kernel: Set<KernelEvent> = []
        var packets: [Packet] = []
        /// Hints were dropped: the loop must reconcile from a full re-read.
        var overflowed = false

        var isEmpty: Bool { completions.isEmpty && config == nil && kernel.isEmpty && packets.isEmpty && !overflowed }
    }

    let packetCapacity: Int
    private let pending = Mutex(Batch())
    private let wake: AsyncStream<Void>.Continuation
    /// One element stands for "something was posted"; several posts before the loop looks are one wake.
    let wakes: AsyncStream<Void>

    init(packetCapacity: Int = 4096) {
        self.packetCapacity = packetCapacity
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func complete(_ completion: Completion) {
        pending.withLock { $0.completions.append(completion) }
        wake.yield()
    }

    func post(_ event: KernelEvent) {
        pending.withLock { b in
            if event == .overflow { b.overflowed = true } else { b.kernel.insert(event) }
        }
        wake.yield()
    }

    func post(_ reading: ConfigReading) {
        pending.withLock { $0.config = reading }
        wake.yield()
    }

    func post(_ packet: Packet) {
        pending.withLock { b in
            if b.packets.count < packetCapacity { b.packets.append(packet) } else { b.overflowed = true }
        }
        wake.yield()
    }

    /// Wakes the loop without an event (its alarm: a deadline of the core is due).
    func ring() { wake.yield() }

    /// Takes everything posted so far.
    func drain() -> Batch {
        pending.withLock { b in
            let taken = b
            b = Batch()
            return taken
        }
    }

    /// Ends ``wakes`` (after the loop has stopped).
    func finish() { wake.finish() }
}
