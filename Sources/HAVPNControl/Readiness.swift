/// Readiness: ready, or not with the reasons why. The path controllers report it for their
/// path, the side-car machines for the whole pod (served on /readyz): one type for both.
public struct Readiness: Hashable, Sendable {
    public var ready: Bool
    public var reasons: [String]

    public init(ready: Bool, reasons: [String] = []) {
        self.ready = ready
        self.reasons = reasons
    }

    /// A path controller's active path is proven healthy.
    public static let ready = Readiness(ready: true)
    /// No path is healthy; the last active path (if any) is kept.
    public static let noHealthyPath = Readiness(ready: false, reasons: ["no healthy path"])
}
