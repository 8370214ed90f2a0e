/// Which pod this process configures: its role and its index within that role.
///
/// - apiserver: index 1...0xffff, the last 16 bits of its bond address (`::a:<index>`).
///   kube-apiserver pods are a Deployment without ordinals, so the index comes from `--index`,
///   `--bond-address`, or is derived from the pod IP (no lease, no seed API access).
/// - shoot: the vpn-shoot StatefulSet ordinal, 0..<shootClients.
/// - server: the vpn-seed-server ordinal, 0..<servers.
public struct Identity: Hashable, Sendable {
    public var role: Role
    public var index: Int

    public init(role: Role, index: Int) {
        self.role = role
        self.index = index
    }
}
