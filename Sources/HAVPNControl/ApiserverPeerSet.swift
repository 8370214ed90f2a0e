import HAVPNModel

/// shoot role: the apiserver peers the tunnels are built for. The ``TunnelRegistry`` learns them
/// from announcements; this adds the **bootstrap peers**: those whose tunnels a previous havpn
/// process (or a registry a reload replaced) left behind, kept for one announcement lifetime so a
/// restart does not tear down working tunnels before the announcements arrive again.
///
/// States: `bootstrapping(until:)` while bootstrap peers are kept, `learned` after (only what
/// the registry knows). A peer announced meanwhile is the registry's from then on.
public struct ApiserverPeerSet: Sendable {
    public enum State: Hashable, Sendable {
        case bootstrapping(until: Instant)
        case learned
    }

    public private(set) var registry: TunnelRegistry
    private var bootstrapPeers: [ApiserverPeer]
    private var bootstrapUntil: Instant

    /// - Parameter bootstrap: peers found in the kernel, kept until `now + lifetime`.
    public init(configuration: TunnelRegistry.Configuration, bootstrap: [ApiserverPeer], at now: Instant) {
        registry = TunnelRegistry(configuration: configuration)
        bootstrapPeers = bootstrap
        bootstrapUntil = now + configuration.defaultLifetime
    }

    /// A reload replaced the registry's configuration: what is known now (in the bond network
    /// `plan` describes) bootstraps the new registry for one lifetime.
    public mutating func rebuild(configuration: TunnelRegistry.Configuration, plan: AddressPlan, at now: Instant) {
        bootstrapPeers = peers.filter { plan.apiserverIndex(ofBondAddress: $0.bondAddress) != nil }
        bootstrapUntil = now + configuration.defaultLifetime
        registry = TunnelRegistry(configuration: configuration)
    }

    public func state(at now: Instant) -> State {
        bootstrapPeers.isEmpty || now >= bootstrapUntil ? .learned : .bootstrapping(until: bootstrapUntil)
    }

    /// Bootstrap peers overlaid by what the registry learned, by bond address.
    public var peers: [ApiserverPeer] {
        var byAddress: [IPv6Address: ApiserverPeer] = [:]
        for p in bootstrapPeers { byAddress[p.bondAddress] = p }
        for p in registry.peers { byAddress[p.bondAddress] = p }
        return byAddress.values.sorted()
    }

    /// Call ``tick(at:)`` no later than this (a peer expires or the bootstrap ends).
    public var nextDeadline: Instant? {
        let end = bootstrapPeers.isEmpty ? nil : bootstrapUntil
        switch (registry.nextExpiry, end) {
        case (let a?, let b?): return min(a, b)
        case (let a, let b): return a ?? b
        }
    }

    /// Expires peers and ends the bootstrap when due; `changed` when ``peers`` changed.
    public mutating func tick(at now: Instant) -> TunnelRegistry.Step {
        var step = registry.tick(at: now)
        if !bootstrapPeers.isEmpty, now >= bootstrapUntil {
            bootstrapPeers = []
            step.changed = true
        }
        return step
    }

    public mutating func announcement(from source: IPAddress, device: String, payload: [UInt8], at now: Instant)
        -> TunnelRegistry.Step
    {
        registry.announcement(from: source, device: device, payload: payload, at: now)
    }
}
