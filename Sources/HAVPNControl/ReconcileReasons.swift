/// Why a reconcile runs, as a set: what the run loop logs and what decides whether a change that
/// the pass applied counts as a drift repair. Typed, so no caller searches a joined string.
public struct ReconcileReasons: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let configChanged = Self(rawValue: 1 << 0)
    public static let timer = Self(rawValue: 1 << 1)
    public static let controllerInput = Self(rawValue: 1 << 2)
    public static let netlinkOverflow = Self(rawValue: 1 << 3)
    public static let driftLink = Self(rawValue: 1 << 4)
    public static let driftAddress = Self(rawValue: 1 << 5)
    public static let driftRoute = Self(rawValue: 1 << 6)
    public static let driftRule = Self(rawValue: 1 << 7)
    public static let driftNeighbour = Self(rawValue: 1 << 8)
    public static let driftOther = Self(rawValue: 1 << 9)
    /// Any kernel drift: the pass repairs what someone else changed.
    public static let drift: Self = [.driftLink, .driftAddress, .driftRoute, .driftRule, .driftNeighbour, .driftOther]

    public init(_ reason: ReconcileTrigger.Reason) {
        switch reason {
        case .configChanged: self = .configChanged
        case .timer: self = .timer
        case .controllerInput: self = .controllerInput
        case .netlinkOverflow: self = .netlinkOverflow
        case .drift(.link): self = .driftLink
        case .drift(.address): self = .driftAddress
        case .drift(.route): self = .driftRoute
        case .drift(.rule): self = .driftRule
        case .drift(.neighbour): self = .driftNeighbour
        case .drift(.other): self = .driftOther
        }
    }

    public init<S: Sequence>(_ reasons: S) where S.Element == ReconcileTrigger.Reason {
        self = reasons.reduce(into: []) { $0.formUnion(Self($1)) }
    }

    public var isDrift: Bool { !isDisjoint(with: .drift) }

    private static let names: [(Self, String)] = [
        (.configChanged, "configChanged"), (.controllerInput, "controllerInput"), (.driftAddress, "drift:address"),
        (.driftLink, "drift:link"), (.driftNeighbour, "drift:neighbour"), (.driftOther, "drift:other"),
        (.driftRoute, "drift:route"), (.driftRule, "drift:rule"), (.netlinkOverflow, "netlinkOverflow"),
        (.timer, "timer"),
    ]

    /// The names, sorted and comma-separated (as the log line has always shown them).
    public var description: String { Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",") }
}
