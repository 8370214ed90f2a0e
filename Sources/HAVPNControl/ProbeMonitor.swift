/// Decides when to probe a set of paths (targets `0..<count`) and turns replies and timeouts into
/// per-path health with hysteresis. Pure: the I/O layer sends the ICMPv6 echoes it asks for and
/// reports replies; time is passed in.
///
/// Probing policy:
/// - every target is probed every `interval`, starting at once; a late `tick` sends one probe and
///   re-bases the schedule (no burst of catch-up probes);
/// - a probe is **lost** unless its reply arrives strictly before `sentAt + timeout`; a late reply is
///   counted as a loss (and in `lateReplies`), so the verdict doesn't depend on how often `tick` runs;
/// - outcomes are fed to the ``HealthHysteresis`` **in sequence order** (a reply that overtakes an
///   unresolved earlier probe waits for it), so "N consecutive losses" means N consecutive probes;
/// - sequence numbers are per target and wrap in 16 bits (`&+=`, vpn2 #120). With at most
///   `timeout / interval + 1` probes outstanding and 65 536 numbers, a wrapped number can't collide
///   with an outstanding one.
///
/// The I/O layer should call ``tick(at:)`` no later than ``nextDeadline``; the timing bounds proved in
/// ``PathController`` assume that it does.
public struct ProbeMonitor: Sendable {
    public struct Configuration: Hashable, Sendable {
        public var interval: Duration
        public var timeout: Duration
        public var unhealthyThreshold: Int
        public var healthyThreshold: Int

        public init(interval: Duration, timeout: Duration, unhealthyThreshold: Int, healthyThreshold: Int) {
            precondition(interval > .zero && timeout > .zero)
            self.interval = interval
            self.timeout = timeout
            self.unhealthyThreshold = unhealthyThreshold
            self.healthyThreshold = healthyThreshold
        }
    }

    public enum Output: Hashable, Sendable {
        case sendProbe(target: Int, sequence: UInt16)
        case healthChanged(target: Int, health: PathHealth)
    }

    /// Per-target counters for metrics.
    public struct Statistics: Hashable, Sendable {
        public var sent = 0
        public var replies = 0
        public var losses = 0
        /// Replies that came after the timeout (already counted as losses) or matched no probe.
        public var lateReplies = 0
        public var lastRTT: Duration?
        /// Exponentially weighted RTT (α = 1/8, as TCP's SRTT).
        public var smoothedRTT: Duration?
        /// Exponentially weighted loss ratio over resolved probes (α = 1/16), 0...1.
        public var lossRatio: Double = 0
        public init() {}
    }

    struct Probe: Sendable {
        var sequence: UInt16
        var sentAt: Instant
        var outcome: Bool?
    }

    struct Target: Sendable {
        var hysteresis: HealthHysteresis
        var nextSequence: UInt16 = 0
        var nextProbeAt: Instant
        var inFlight: [Probe] = []
        var statistics = Statistics()
        /// Outcomes of the last `unhealthyThreshold` judged probes, as a bit ring (1 = lost).
        var recentLossBits: UInt64 = 0
    }

    public let configuration: Configuration
    var targets: [Target]
    // Hot path (10 events/s per target; 10⁷ in the simulations): plain nanoseconds, index loops.
    private let intervalNanos: Int64
    private let timeoutNanos: Int64

    public init(configuration: Configuration, targetCount: Int, at now: Instant) {
        precondition(targetCount >= 0)
        self.configuration = configuration
        intervalNanos = configuration.interval.nanoseconds
        timeoutNanos = configuration.timeout.nanoseconds
        self.targets = []
        setTargetCount(targetCount, at: now)
    }

    public var targetCount: Int { targets.count }

    public func health(of target: Int) -> PathHealth {
        targets.indices.contains(target) ? targets[target].hysteresis.health : .unknown
    }

    /// Health of every target, by index.
    public var healths: [PathHealth] {
        var h: [PathHealth] = []
        h.reserveCapacity(targets.count)
        var i = 0
        while i < targets.count {
            h.append(targets[i].hysteresis.health)
            i += 1
        }
        return h
    }

    /// Whether the target's most recently judged probe was answered.
    public func answeredLastProbe(_ target: Int) -> Bool {
        targets.indices.contains(target) && targets[target].statistics.sent > 0
            && targets[target].recentLossBits & 1 == 0
    }

    /// Probes lost among the target's last `unhealthyThreshold` judged probes.
    public func recentLosses(of target: Int) -> Int {
        targets.indices.contains(target) ? targets[target].recentLossBits.nonzeroBitCount : 0
    }

    public func statistics(of target: Int) -> Statistics? {
        targets.indices.contains(target) ? targets[target].statistics : nil
    }

    /// When ``tick(at:)`` must be called next: the next probe or the next timeout.
    public var nextDeadline: Instant? {
        var best = Int64.max
        var i = 0
        while i < targets.count {
            best = min(best, targets[i].nextProbeAt.nanoseconds)
            var j = 0
            while j < targets[i].inFlight.count {
                if targets[i].inFlight[j].outcome == nil {
                    best = min(best, targets[i].inFlight[j].sentAt.nanoseconds &+ timeoutNanos)
                    break
                }
                j += 1
            }
            i += 1
        }
        return targets.isEmpty ? nil : Instant(nanoseconds: best)
    }

    /// Adds targets (probed at once, health unknown) or drops the highest ones.
    public mutating func setTargetCount(_ count: Int, at now: Instant) {
        precondition(count >= 0)
        if count < targets.count { targets.removeLast(targets.count - count) }
        while targets.count < count {
            targets.append(
                Target(
                    hysteresis: HealthHysteresis(
                        unhealthyThreshold: configuration.unhealthyThreshold,
                        healthyThreshold: configuration.healthyThreshold
                    ),
                    nextProbeAt: now
                )
            )
        }
    }

    /// Forgets one target's verdict (its probes in flight, sequence numbers and statistics stay):
    /// what it did while the fabric was settling says nothing about it now.
    public mutating func rejudge(target: Int) {
        guard targets.indices.contains(target) else { return }
        targets[target].hysteresis.rejudge()
        targets[target].recentLossBits = 0
    }

    /// Expires timed-out probes, then sends the probes that are due.
    public mutating func tick(at now: Instant) -> [Output] {
        var out: [Output] = []
        var i = 0
        while i < targets.count {
            var j = 0
            while j < targets[i].inFlight.count {
                if targets[i].inFlight[j].outcome == nil,
                    now.nanoseconds >= targets[i].inFlight[j].sentAt.nanoseconds &+ timeoutNanos
                {
                    targets[i].inFlight[j].outcome = false
                    targets[i].statistics.losses += 1
                }
                j += 1
            }
            drain(i, into: &out)
            if now >= targets[i].nextProbeAt {
                let seq = targets[i].nextSequence
                targets[i].nextSequence &+= 1
                targets[i].inFlight.append(Probe(sequence: seq, sentAt: now, outcome: nil))
                targets[i].statistics.sent += 1
                let next = targets[i].nextProbeAt.nanoseconds &+ intervalNanos
                targets[i].nextProbeAt = Instant(
                    nanoseconds: next > now.nanoseconds ? next : now.nanoseconds &+ intervalNanos
                )
                out.append(.sendProbe(target: i, sequence: seq))
            }
            i += 1
        }
        return out
    }

    /// The I/O layer reports the instant the probe actually left (refines the timeout base).
    public mutating func probeSent(target: Int, sequence: UInt16, at: Instant) {
        guard let j = pending(target, sequence) else { return }
        targets[target].inFlight[j].sentAt = at
    }

    /// The probe couldn't be sent (e.g. `ENETUNREACH`): a loss at once.
    public mutating func probeFailed(target: Int, sequence: UInt16, at: Instant) -> [Output] {
        guard let j = pending(target, sequence) else { return [] }
        targets[target].inFlight[j].outcome = false
        targets[target].statistics.losses += 1
        var out: [Output] = []
        drain(target, into: &out)
        return out
    }

    /// An echo reply arrived at `at`; `rtt` is the round-trip time the I/O layer measured.
    public mutating func probeReply(target: Int, sequence: UInt16, rtt: Duration, at: Instant) -> [Output] {
        guard targets.indices.contains(target) else { return [] }
        guard let j = pending(target, sequence) else {
            targets[target].statistics.lateReplies += 1
            return []
        }
        if at.nanoseconds >= targets[target].inFlight[j].sentAt.nanoseconds &+ timeoutNanos {
            targets[target].inFlight[j].outcome = false
            targets[target].statistics.losses += 1
            targets[target].statistics.lateReplies += 1
        } else {
            targets[target].inFlight[j].outcome = true
            targets[target].statistics.replies += 1
            targets[target].statistics.lastRTT = rtt
            if let old = targets[target].statistics.smoothedRTT {
                targets[target].statistics.smoothedRTT = .nanoseconds((old.nanoseconds * 7 + rtt.nanoseconds) / 8)
            } else {
                targets[target].statistics.smoothedRTT = rtt
            }
        }
        var out: [Output] = []
        drain(target, into: &out)
        return out
    }

    private func pending(_ target: Int, _ sequence: UInt16) -> Int? {
        guard target >= 0 && target < targets.count else { return nil }
        var j = 0
        while j < targets[target].inFlight.count {
            if targets[target].inFlight[j].sequence == sequence && targets[target].inFlight[j].outcome == nil {
                return j
            }
            j += 1
        }
        return nil
    }

    /// Feeds resolved probes at the head of the queue to the hysteresis, in sequence order.
    private mutating func drain(_ i: Int, into out: inout [Output]) {
        while targets[i].inFlight.count > 0, let ok = targets[i].inFlight[0].outcome {
            targets[i].inFlight.removeFirst()
            targets[i].statistics.lossRatio += ((ok ? 0 : 1) - targets[i].statistics.lossRatio) / 16
            let window = min(configuration.unhealthyThreshold, 64)
            let mask: UInt64 = window == 64 ? ~0 : (1 << UInt64(window)) - 1
            targets[i].recentLossBits = (targets[i].recentLossBits << 1 | (ok ? 0 : 1)) & mask
            if let h = targets[i].hysteresis.record(success: ok) {
                out.append(.healthChanged(target: i, health: h))
            }
        }
    }
}
