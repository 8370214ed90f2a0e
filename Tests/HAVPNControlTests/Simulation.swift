import HAVPNControl
import HAVPNModel

/// SplitMix64: a small seeded generator, so every simulated run is reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}

extension Instant {
    static func ms(_ v: Int64) -> Instant { Instant(nanoseconds: v * 1_000_000) }
}

/// A controller that asks for probes (PathController, ServerPathController).
protocol ProbeDriven {
    associatedtype Action
    mutating func tick(at: Instant) -> [Action]
    mutating func reply(target: Int, sequence: UInt16, rtt: Duration, at: Instant) -> [Action]
    var nextDeadline: Instant? { get }
    static func probe(_ a: Action) -> (target: Int, sequence: UInt16)?
}

extension PathController: ProbeDriven {
    mutating func reply(target: Int, sequence: UInt16, rtt: Duration, at: Instant) -> [Action] {
        probeReply(client: target, sequence: sequence, rtt: rtt, at: at)
    }
    static func probe(_ a: Action) -> (target: Int, sequence: UInt16)? {
        if case .sendProbe(let c, let s) = a { return (c, s) }
        return nil
    }
}

extension ServerPathController: ProbeDriven {
    mutating func reply(target: Int, sequence: UInt16, rtt: Duration, at: Instant) -> [Action] {
        probeReply(server: target, sequence: sequence, rtt: rtt, at: at)
    }
    static func probe(_ a: Action) -> (target: Int, sequence: UInt16)? {
        if case .sendProbe(let c, let s) = a { return (c, s) }
        return nil
    }
}

/// Event-driven simulated network: time jumps to the next deadline or reply, so 10 simulated
/// minutes cost only the events in them.
struct ProbeSimulation<C: ProbeDriven> {
    var controller: C
    var now: Instant
    var rng: SplitMix64
    /// Given (target, send instant, rng): the RTT, or nil when the probe or its reply is lost.
    var network: (Int, Instant, inout SplitMix64) -> Duration?
    private struct Reply {
        var at: Instant
        var target: Int
        var sequence: UInt16
        var rtt: Duration
    }
    private var inFlight: [Reply] = []

    init(controller: C, start: Instant, seed: UInt64, network: @escaping (Int, Instant, inout SplitMix64) -> Duration?)
    {
        self.controller = controller
        self.now = start
        self.rng = SplitMix64(seed: seed)
        self.network = network
    }

    /// Runs until `end`, calling `observe` for every action (with its instant).
    mutating func run(until end: Instant, observe: (Instant, C.Action) -> Void) {
        while true {
            var next = controller.nextDeadline ?? end
            var replyIndex = -1
            var i = 0
            while i < inFlight.count {
                if inFlight[i].at < next {
                    next = inFlight[i].at
                    replyIndex = i
                }
                i += 1
            }
            guard next <= end else { break }
            if next > now { now = next }
            let actions: [C.Action]
            if replyIndex >= 0 {
                let r = inFlight.remove(at: replyIndex)
                actions = controller.reply(target: r.target, sequence: r.sequence, rtt: r.rtt, at: now)
            } else {
                actions = controller.tick(at: now)
            }
            for a in actions {
                observe(now, a)
                if let (t, s) = C.probe(a), let rtt = network(t, now, &rng) {
                    inFlight.append(Reply(at: now + rtt, target: t, sequence: s, rtt: rtt))
                }
            }
        }
        now = end
    }
}
