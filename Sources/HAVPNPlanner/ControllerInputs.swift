import HAVPNModel

/// Inputs from the controllers that the desired state depends on.
public struct ControllerInputs: Hashable, Sendable {
    /// apiserver role: the shoot client whose tunnel carries the shoot networks.
    public var activeShootClient: Int
    /// shoot role: apiserver peers seen (from the topology and from announcements).
    public var apiserverPeers: [ApiserverPeer]
    /// Both roles: the VPN server whose tap the bond should prefer, overriding `bond.primary`
    /// while the server path-controller has moved the pod off a dead server path; nil keeps
    /// the topology's primary.
    public var preferredServer: Int?

    public init(activeShootClient: Int = 0, apiserverPeers: [ApiserverPeer] = [], preferredServer: Int? = nil) {
        self.activeShootClient = activeShootClient
        self.apiserverPeers = apiserverPeers
        self.preferredServer = preferredServer
    }
}
