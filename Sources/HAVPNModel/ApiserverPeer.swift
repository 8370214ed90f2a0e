/// A kube-apiserver instance as the shoot side knows it: its bond address (the tunnel's remote
/// end) and its pod IPs (the host routes through that tunnel). The tunnel registry learns it from
/// announcements, the planner builds a tunnel from it: one type for both.
public struct ApiserverPeer: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bondAddress: IPv6Address
    /// Sorted, without duplicates.
    public var podIPs: [IPAddress]

    public init(bondAddress: IPv6Address, podIPs: [IPAddress]) {
        self.bondAddress = bondAddress
        self.podIPs = podIPs
    }

    public static func < (a: Self, b: Self) -> Bool { a.bondAddress < b.bondAddress }
    public var description: String { "\(bondAddress) → \(podIPs.map(\.description).joined(separator: ","))" }
}
