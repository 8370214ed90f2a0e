import HAVPNModel

extension ControllerInputs {
    /// apiserver role: the shoot client whose tunnel the owned shoot-network routes use now, if
    /// they all agree. A one-shot `apply` keeps it, so it does not undo the path-controller.
    public static func activeShootClient(in observed: ObservedState, plan: AddressPlan) -> Int? {
        let names = Dictionary(
            uniqueKeysWithValues: (0..<plan.topology.shootClients).map {
                (plan.apiserverTunnelName(shootClient: $0), $0)
            }
        )
        let used = Set(observed.routes.filter(\.owned).compactMap { names[$0.spec.device] })
        return used.count == 1 ? used.first : nil
    }

    /// shoot role: the apiserver peers whose tunnels havpn created (learned from announcements),
    /// with the pod IPs of their owned back routes. A one-shot `apply` keeps them instead of
    /// pruning what the tunnel-controller learned. A declared apiserver's peer also has its declared pod IPs.
    public static func learnedApiserverPeers(in observed: ObservedState, plan: AddressPlan) -> [ApiserverPeer] {
        // Owned host routes by device, gathered once: one scan of 10,000 routes per tunnel was
        // a sixth of a no-op plan's instructions at 100 tunnels.
        var hostRoutes: [String: [IPAddress]] = [:]
        for route in observed.routes
        where route.owned && route.spec.destination.prefixLength == route.spec.destination.address.bitWidth {
            hostRoutes[route.spec.device, default: []].append(route.spec.destination.address)
        }
        var peers: [ApiserverPeer] = []
        for link in observed.links where link.owned {
            guard case .ip6tnl(let tunnel) = link.spec.kind,
                let index = plan.apiserverIndex(ofBondAddress: tunnel.remote),
                link.spec.name == plan.shootTunnelName(peer: tunnel.remote)
            else { continue }
            var podIPs = Set(hostRoutes[link.spec.name] ?? [])
            guard !podIPs.isEmpty else { continue }
            // A peer replaces the topology's entry for its bond address, so a declared apiserver keeps its declared
            // pod IPs: an apply or side-car interrupted half-way through its back routes must not shrink it to
            // the routes the kernel happens to hold (those missing would stay missing, unseen by plan).
            for declared in plan.topology.apiservers where declared.index == index { podIPs.formUnion(declared.podIPs) }
            peers.append(ApiserverPeer(bondAddress: tunnel.remote, podIPs: podIPs.sorted()))
        }
        return peers.sorted()
    }
}
