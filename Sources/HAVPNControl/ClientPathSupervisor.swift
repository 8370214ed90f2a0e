/// apiserver role: which shoot client carries the routes, with the side-car's policy on top of
/// ``PathController``: the **switch hold** after a tap change.
///
/// A bond fails over ~0.2 s after its tap loses carrier, but the *peers'* bonds may take longer
/// (their openvpn clients notice the server's end at their own time); during that window some shoot
/// clients are briefly unreachable while others are not. Moving the routes then would reset every
/// connection through the active client (its SNAT address changes) for nothing. So for
/// ``switchHold`` after a tap change (reported by ``tapChanged(at:)``: carrier, a server path
/// turning dead or healthy, the bond's own move) a switch the controller decides is **held**;
/// when the hold ends, a routed client that answers again is kept (its losses were the fabric
/// settling: its verdict is forgotten, nobody else's) and otherwise the held switch happens then.
///
/// States: `free` → (tap change) `settling` → (controller decides a switch) `holding` →
/// (hold over) `free`, keeping or switching. The controller itself is never rebuilt, so its
/// hysteresis and the bounds proved for it hold outside the hold.
public struct ClientPathSupervisor: Sendable {
    public enum Action: Hashable, Sendable {
        case sendProbe(client: Int, sequence: UInt16)
        /// Route the shoot networks through client `to` (`from` nil: the first choice).
        case route(from: Int?, to: Int)
        /// A switch was decided during the hold and waits for its end (reported once per hold).
        case switchHeld(from: Int, to: Int)
        /// The hold ended with the routed client answering again: no switch.
        case keptAfterHold(client: Int)
        case healthChanged(client: Int, health: PathHealth)
        case probeAnswered(client: Int, rtt: Duration, lossRatio: Double)
        case readinessChanged(Readiness)
    }

    public enum State: Hashable, Sendable {
        case free
        /// A tap changed; a switch decided before `until` is held.
        case settling(until: Instant)
        /// The switch to `target` waits for `until`.
        case holding(target: Int, until: Instant)
    }

    public static let switchHold: Duration = .seconds(3)

    public private(set) var controller: PathController
    /// The client the routes use (the planner's input).
    public private(set) var routed: Int
    private var lastTapChange: Instant?
    private var heldSwitch: Int?
    private var sentAt: [Int: [UInt16: Instant]] = [:]

    public init(configuration: PathController.Configuration, clientCount: Int, routed: Int, at now: Instant) {
        controller = PathController(
            configuration: configuration,
            clientCount: clientCount,
            initialActive: routed,
            at: now
        )
        self.routed = routed
    }

    /// A new configuration or client count: a new controller on the routed client; the hold stays.
    public mutating func reconfigure(configuration: PathController.Configuration, clientCount: Int, at now: Instant) {
        controller = PathController(
            configuration: configuration,
            clientCount: clientCount,
            initialActive: routed,
            at: now
        )
    }

    public func state(at now: Instant) -> State {
        guard let changed = lastTapChange, now - changed < Self.switchHold else { return .free }
        if let heldSwitch { return .holding(target: heldSwitch, until: changed + Self.switchHold) }
        return .settling(until: changed + Self.switchHold)
    }

    /// Call ``tick(at:)`` no later than this.
    public var nextDeadline: Instant? {
        let release = heldSwitch == nil ? nil : lastTapChange.map { $0 + Self.switchHold }
        switch (controller.nextDeadline, release) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    public mutating func tapChanged(at now: Instant) { lastTapChange = now }

    public mutating func tick(at now: Instant) -> [Action] {
        var actions = handle(controller.tick(at: now), at: now)
        actions += releaseHeldSwitch(at: now)
        return actions
    }

    public mutating func probeReply(client: Int, sequence: UInt16, at now: Instant) -> [Action] {
        guard let sent = sentAt[client]?.removeValue(forKey: sequence) else { return [] }
        var actions = handle(
            controller.probeReply(client: client, sequence: sequence, rtt: now - sent, at: now),
            at: now
        )
        actions.append(
            .probeAnswered(
                client: client,
                rtt: now - sent,
                lossRatio: controller.statistics(of: client)?.lossRatio ?? 0
            )
        )
        return actions
    }

    /// After the hold: if the routed client answers again it was only the fabric settling, so the
    /// controller is put back on it; otherwise the held switch happens now.
    private mutating func releaseHeldSwitch(at now: Instant) -> [Action] {
        guard let target = heldSwitch, let changed = lastTapChange, now - changed >= Self.switchHold else { return [] }
        heldSwitch = nil
        if controller.health(of: routed) != .dead || controller.answeredLastProbe(routed) {
            controller.keep(client: routed, rejudging: true)
            return [.keptAfterHold(client: routed)]
        }
        guard controller.active == target, target != routed else { return [] }
        let from = routed
        routed = target
        return [.route(from: from, to: target)]
    }

    private mutating func handle(_ actions: [PathController.Action], at now: Instant) -> [Action] {
        var out: [Action] = []
        for action in actions {
            switch action {
            case .sendProbe(let client, let sequence):
                controller.probeSent(client: client, sequence: sequence, at: now)
                sentAt[client, default: [:]][sequence] = now
                if sentAt[client]!.count > 64 {
                    sentAt[client] = sentAt[client]!.filter { now - $0.value < .seconds(5) }
                }
                out.append(.sendProbe(client: client, sequence: sequence))
            case .switchActive(let from, let to):
                if let from, state(at: now) != .free {
                    if heldSwitch == nil { out.append(.switchHeld(from: from, to: to)) }
                    heldSwitch = to
                    continue
                }
                heldSwitch = nil
                routed = to
                out.append(.route(from: from, to: to))
            case .healthChanged(let client, let health):
                out.append(.healthChanged(client: client, health: health))
            case .readinessChanged(let r):
                out.append(.readinessChanged(r))
            }
        }
        return out
    }
}
