import HAVPNModel

extension Planner {
    /// A pure model of what the kernel does with each action, in order.
    ///
    /// Modelled kernel effects: deleting a link removes its addresses and every route through it and
    /// releases its slaves (the bond closes a released slave, so it ends up down); a created link is
    /// havpn's (alias), down and unenslaved; an added address carries havpn's IFA_PROTO; an added or
    /// replaced route carries havpn's protocol. An action the kernel would refuse (creating what
    /// exists, deleting what does not) leaves the state unchanged, as a failed request would.
    /// Not modelled: MTU propagation between a bond and its slaves, carrier, DAD.
    public static func simulate(_ plan: Plan, on observed: ObservedState) -> ObservedState {
        var state = observed
        for action in plan.actions { apply(action, to: &state) }
        return state
    }

    /// The effect of one action (see ``simulate(_:on:)``).
    public static func apply(_ action: PlanAction, to state: inout ObservedState) {
        switch action {
        case .setSysctl(let key, _, let value):
            state.sysctls[key] = value
        case .deleteRoute(let spec):
            if let i = state.routes.firstIndex(where: { $0.spec == spec && $0.owned })
                ?? state.routes.firstIndex(where: { $0.spec == spec })
            {
                state.routes.remove(at: i)
            }
        case .deleteAddress(let spec):
            state.addresses.removeAll { $0.spec.device == spec.device && $0.spec.address == spec.address }
        case .deleteLink(let name, _):
            guard state.links.contains(where: { $0.spec.name == name }) else { return }
            state.links.removeAll { $0.spec.name == name }
            state.addresses.removeAll { $0.spec.device == name }
            state.routes.removeAll { $0.spec.device == name }
            for i in state.links.indices where state.links[i].spec.master == name {
                state.links[i].spec.master = nil
                state.links[i].spec.up = false
            }
        case .createLink(let spec):
            guard !state.links.contains(where: { $0.spec.name == spec.name }) else { return }
            var created = spec
            created.master = nil
            created.up = false
            state.links.append(ObservedLink(spec: created, owned: true))
        case .setLink(let name, let change, _):
            guard let i = state.links.firstIndex(where: { $0.spec.name == name }) else { return }
            apply(change, to: &state.links[i])
            // IPv6 drops the routes of a link that goes down; IPv4 keeps them (linkdown).
            if case .up(false) = change {
                state.routes.removeAll { $0.spec.device == name && $0.spec.destination.family == .ipv6 }
            }
        case .addAddress(let spec):
            guard state.links.contains(where: { $0.spec.name == spec.device }),
                !state.addresses.contains(where: { $0.spec.device == spec.device && $0.spec.address == spec.address })
            else { return }
            state.addresses.append(ObservedAddress(spec: spec, owned: true))
        case .addRoute(let spec):
            guard state.links.contains(where: { $0.spec.name == spec.device }),
                !state.routes.contains(where: { $0.spec.key == spec.key })
            else { return }
            state.routes.append(ObservedRoute(spec: spec, routeProtocol: havpnRouteProtocol))
        case .replaceRoute(let from, let to):
            guard state.links.contains(where: { $0.spec.name == to.device }) else { return }
            if let i = state.routes.firstIndex(where: { $0.spec == from && $0.owned })
                ?? state.routes.firstIndex(where: { $0.spec.key == to.key })
            {
                state.routes[i] = ObservedRoute(spec: to, routeProtocol: havpnRouteProtocol)
            } else {
                state.routes.append(ObservedRoute(spec: to, routeProtocol: havpnRouteProtocol))
            }
        case .setRulesetChain(let chain, _, let to):
            state.ruleset.chains[chain] = to.isEmpty ? nil : to
        }
    }

    private static func apply(_ change: LinkChange, to link: inout ObservedLink) {
        switch change {
        case .master(let master): link.spec.master = master
        case .up(let up): link.spec.up = up
        case .mtu(let mtu): link.spec.mtu = mtu
        case .adopt: link.owned = true
        case .tunnelEndpoints(let tunnel):
            if case .ip6tnl = link.spec.kind { link.spec.kind = .ip6tnl(tunnel) }
        case .bondMiimon, .bondUseCarrier, .bondPrimary, .bondNumPeerNotif:
            guard case .bond(var bond) = link.spec.kind else { return }
            switch change {
            case .bondMiimon(let v): bond.miimon = v
            case .bondUseCarrier(let v): bond.useCarrier = v
            case .bondPrimary(let v): bond.primary = v
            case .bondNumPeerNotif(let v): bond.numPeerNotif = v
            default: break
            }
            link.spec.kind = .bond(bond)
        }
    }
}
