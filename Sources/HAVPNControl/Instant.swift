/// A point in time of the controllers' simulated or real clock: nanoseconds since an arbitrary origin.
///
/// The state machines never read a clock. The I/O layer maps `ContinuousClock.now` to an `Instant`
/// (for example the nanoseconds since the process started) and passes it in with every event; tests
/// pass simulated instants. Arithmetic with `Duration` saturates instead of trapping.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// The origin.
    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Self, d: Duration) -> Self {
        let (r, o) = a.nanoseconds.addingReportingOverflow(d.nanoseconds)
        return Instant(nanoseconds: o ? (d.nanoseconds > 0 ? .max : .min) : r)
    }

    public static func - (a: Self, d: Duration) -> Self { a + .nanoseconds(-d.nanoseconds) }

    public static func += (a: inout Self, d: Duration) { a = a + d }

    /// The duration from `b` to `a`.
    public static func - (a: Self, b: Self) -> Duration {
        let (r, o) = a.nanoseconds.subtractingReportingOverflow(b.nanoseconds)
        return .nanoseconds(o ? (a > b ? Int64.max : Int64.min) : r)
    }

    public var description: String { "\(Duration.nanoseconds(nanoseconds))" }
}

extension Duration {
    /// Whole nanoseconds, saturating at the bounds of `Int64`.
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, o1) = s.multipliedReportingOverflow(by: 1_000_000_000)
        let (r, o2) = ns.addingReportingOverflow(atto / 1_000_000_000)
        if o1 || o2 { return s < 0 ? .min : .max }
        return r
    }

    /// Whole milliseconds (truncated toward zero).
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }
}
