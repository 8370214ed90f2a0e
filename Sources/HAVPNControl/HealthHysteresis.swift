/// What a probed path is believed to be.
public enum PathHealth: String, Hashable, Sendable, CaseIterable {
    /// No verdict yet (just started or just added): not used for traffic until proven healthy.
    case unknown
    case healthy
    case dead

    public var isHealthy: Bool { self == .healthy }
}

/// Hysteresis over a sequence of probe outcomes, fed **in probe order**.
///
/// Policy:
/// - `healthy → dead` after `unhealthyThreshold` consecutive losses;
/// - `dead → healthy` after `healthyThreshold` consecutive successes;
/// - `unknown → healthy` on the first success (a fresh process must get a route quickly; there is no
///   previous verdict to protect), `unknown → dead` after `unhealthyThreshold` consecutive losses.
///
/// A success resets the loss run and a loss resets the success run, so a path whose probes fail
/// independently with probability p is declared dead by a given run of N probes with probability p^N.
public struct HealthHysteresis: Hashable, Sendable {
    public let unhealthyThreshold: Int
    public let healthyThreshold: Int
    public private(set) var health: PathHealth = .unknown
    public private(set) var consecutiveLosses = 0
    public private(set) var consecutiveSuccesses = 0

    public init(unhealthyThreshold: Int, healthyThreshold: Int) {
        precondition(unhealthyThreshold >= 1 && healthyThreshold >= 1)
        self.unhealthyThreshold = unhealthyThreshold
        self.healthyThreshold = healthyThreshold
    }

    /// Forgets the verdict: the next outcome judges the path afresh, as at start.
    public mutating func rejudge() {
        health = .unknown
        consecutiveLosses = 0
        consecutiveSuccesses = 0
    }

    /// Feeds one outcome; returns the new health when it changed.
    public mutating func record(success: Bool) -> PathHealth? {
        if success {
            consecutiveSuccesses += 1
            consecutiveLosses = 0
            switch health {
            case .unknown:
                health = .healthy
                return .healthy
            case .dead where consecutiveSuccesses >= healthyThreshold:
                health = .healthy
                return .healthy
            default:
                return nil
            }
        } else {
            consecutiveLosses += 1
            consecutiveSuccesses = 0
            if health != .dead && consecutiveLosses >= unhealthyThreshold {
                health = .dead
                return .dead
            }
            return nil
        }
    }
}
