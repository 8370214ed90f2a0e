import HAVPNModel

/// Desired state, diff and plan: pure functions of their inputs.
///
/// Ownership, which decides what a plan may touch:
/// - links: every declared name is havpn's (an unowned one is adopted); an undeclared link is
///   havpn's only when it carries havpn's alias, and is then stale and deleted. Others: never touched.
/// - addresses: only on declared links, and only those with havpn's IFA_PROTO are ever deleted.
/// - routes: only those with protocol ``havpnRouteProtocol``. A desired route whose destination and
///   metric are held by a foreign route is reported as a conflict, never replaced.
public enum Planner {
    /// The ordered, minimal actions that turn `observed` into `desired` on havpn's objects.
    ///
    /// Order: sysctls; deletions (routes, addresses, links: tunnels, bonds, taps); taps and bond
    /// (create down and unenslaved, then adopt, enslave, options, MTU, up); their addresses; tunnels
    /// (create, then changes, up); their addresses; routes (add or replace). Deleting a link takes its
    /// addresses and routes with it, so those are not deleted one by one. The result does not depend
    /// on the order of the observed lists.
    public static func plan(desired: DesiredState, observed rawObserved: ObservedState) -> Plan {
        let observed = normalized(rawObserved)
        let desiredLinks = uniqueByName(desired.links)
        let declared = Set(desiredLinks.map(\.name))
        let desiredByName = Dictionary(desiredLinks.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var actions: [PlanAction] = []
        var conflicts: [HAVPNError] = []

        // Sysctls first: rp_filter and forwarding must hold before traffic can take a new path.
        for sysctl in uniqueByKey(desired.sysctls) {
            let current = observed.sysctls[sysctl.key]
            if current.map(trimmed) != sysctl.value {
                actions.append(.setSysctl(key: sysctl.key, from: current, to: sysctl.value))
            }
        }

        // Links that go away: stale owned ones, and declared ones that can only change by recreation.
        var doomed: [ObservedLink] = []
        for link in observed.links {
            if let want = desiredByName[link.spec.name] {
                if mustRecreate(link.spec, as: want) { doomed.append(link) }
            } else if link.owned {
                doomed.append(link)
            }
        }
        let doomedNames = Set(doomed.map(\.spec.name))

        // Routes: stale owned ones, and owned duplicates of a desired key (one is kept to be replaced).
        let desiredRoutes = uniqueByRouteKey(desired.routes)
        let desiredRouteByKey = Dictionary(desiredRoutes.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let ownedSurviving = observed.routes.filter { $0.owned && !doomedNames.contains($0.spec.device) }
        let ownedByKey = Dictionary(grouping: ownedSurviving, by: \.spec.key)
        for key in Array(ownedByKey.keys).sortedByIndices(key: RouteOrderKey.init, tieBreak: { _, _ in false }) {
            let group = ownedByKey[key]!
            let want = desiredRouteByKey[key]
            // Keep the exact match, else the first one (it will be replaced in place).
            let keeper = want.map { w in group.first(where: { $0.spec == w }) ?? group[0] }
            for route in group where route != keeper {
                actions.append(.deleteRoute(route.spec))
            }
        }

        // Addresses on declared links that stay: owned ones not desired (by device, address, prefix;
        // nodad is a creation-time flag and is not compared).
        let desiredAddresses = uniqueBySlot(desired.addresses)
        let desiredAddressSet = Set(desiredAddresses.map(AddressSlot.init))
        for address in observed.addresses
        where address.owned && declared.contains(address.spec.device) && !doomedNames.contains(address.spec.device)
            && !desiredAddressSet.contains(AddressSlot(address.spec))
        {
            actions.append(.deleteAddress(address.spec))
        }

        for link in doomed.sorted(by: {
            (deletionRank($0.spec.kind), $0.spec.name) < (deletionRank($1.spec.kind), $1.spec.name)
        }) {
            actions.append(.deleteLink(name: link.spec.name, kind: link.spec.kind.kindName))
        }

        // From here on, plan against the state the deletions leave behind.
        var model = simulate(Plan(actions: actions), on: observed)

        let fabric = desiredLinks.filter { $0.kind.isFabric }
        let overlay = desiredLinks.filter { !$0.kind.isFabric }
        for tier in [fabric, overlay] {
            planLinks(tier, model: &model, actions: &actions, conflicts: &conflicts)
            let devices = Set(tier.map(\.name))
            planAddresses(
                desiredAddresses.filter { devices.contains($0.device) },
                model: &model,
                actions: &actions,
                conflicts: &conflicts
            )
        }
        // Addresses on links that are not declared are never havpn's to add.
        for address in desiredAddresses where !declared.contains(address.device) {
            conflicts.append(
                HAVPNError(
                    .conflict,
                    "address \(address.address)/\(address.prefixLength) is on undeclared link \(address.device)",
                    object: "address \(address.address)/\(address.prefixLength) dev \(address.device)"
                )
            )
        }

        // A route through an external link that is absent or down waits for it (the kernel refuses it).
        let external = Set(desired.externalLinks).subtracting(declared)
        let waitingFor = Set(
            external.filter { name in !model.links.contains { $0.spec.name == name && $0.spec.up } }
        )
        let (ready, waiting) = (
            desiredRoutes.filter { !waitingFor.contains($0.device) },
            desiredRoutes.filter { waitingFor.contains($0.device) }
        )
        planRoutes(ready, model: model, actions: &actions, conflicts: &conflicts)
        // The ruleset last: its rules name devices, which need not exist (nor do they here).
        if let ruleset = desired.ruleset { actions += planRuleset(ruleset, observed: observed.ruleset) }
        conflicts.sort { $0.description < $1.description }
        return Plan(
            actions: actions,
            conflicts: conflicts,
            notes: desired.ruleset?.notes ?? [],
            waiting: waitingLines(waiting, model: model)
        )
    }

    /// One line per external link that routes wait for.
    private static func waitingLines(_ routes: [RouteSpec], model: ObservedState) -> [String] {
        Dictionary(grouping: routes, by: \.device).sorted { $0.key < $1.key }.map { device, routes in
            let state = model.links.contains { $0.spec.name == device } ? "down" : "absent"
            let count = routes.count == 1 ? "1 route waits" : "\(routes.count) routes wait"
            return "\(device) is \(state) (openvpn creates it): \(count) for it "
                + "(\(routes.map(\.destination.description).joined(separator: ", ")))"
        }
    }

    // MARK: - Links

    /// Kind, bond mode and fail_over_mac are fixed once a bond has slaves: only recreation changes them.
    static func mustRecreate(_ observed: LinkSpec, as desired: LinkSpec) -> Bool {
        switch (observed.kind, desired.kind) {
        case (.tap, .tap), (.ip6tnl, .ip6tnl): false
        case (.bond(let a), .bond(let b)): a.mode != b.mode || a.failOverMAC != b.failOverMAC
        case (.other(let a), .other(let b)): a != b
        default: true
        }
    }

    /// Delete dependents first: tunnels (they use the bond address), other kinds, bonds, then taps.
    static func deletionRank(_ kind: LinkKind) -> Int {
        switch kind {
        case .ip6tnl: 0
        case .other: 1
        case .bond: 2
        case .tap: 3
        }
    }

    /// Create slaves before masters (a bond's primary names an existing tap).
    static func creationRank(_ kind: LinkKind) -> Int {
        switch kind {
        case .tap: 0
        case .bond: 1
        case .ip6tnl: 2
        case .other: 3
        }
    }

    private static func planLinks(
        _ links: [LinkSpec],
        model: inout ObservedState,
        actions: inout [PlanAction],
        conflicts: inout [HAVPNError]
    ) {
        let ordered = links.sorted { (creationRank($0.kind), $0.name) < (creationRank($1.kind), $1.name) }
        for link in ordered where !model.links.contains(where: { $0.spec.name == link.name }) {
            let action = PlanAction.createLink(creationSpec(link))
            actions.append(action)
            apply(action, to: &model)
        }
        var changes: [(rank: Int, order: Int, action: PlanAction)] = []
        for (order, link) in ordered.enumerated() {
            guard let current = model.links.first(where: { $0.spec.name == link.name }) else { continue }
            for (rank, change, from) in linkChanges(from: current, to: link) {
                if case .master(let master?) = change, !model.links.contains(where: { $0.spec.name == master }) {
                    conflicts.append(
                        HAVPNError(
                            .conflict,
                            "link \(link.name): master \(master) does not exist and is not declared",
                            object: "link \(link.name)"
                        )
                    )
                    continue
                }
                changes.append((rank, order, .setLink(name: link.name, change: change, from: from)))
            }
        }
        for change in changes.sorted(by: { ($0.rank, $0.order) < ($1.rank, $1.order) }) {
            actions.append(change.action)
            apply(change.action, to: &model)
        }
    }

    /// What `createLink` carries: every kind option, down, no master. A bond's MTU is left out and set
    /// after its slaves are enslaved, because enslaving the first slave can reset it (vpn2).
    static func creationSpec(_ link: LinkSpec) -> LinkSpec {
        var spec = link
        spec.master = nil
        spec.up = false
        if case .bond = link.kind { spec.mtu = nil }
        return spec
    }

    /// In-place changes with their phase: 0 adopt, 1 master, 2 kind options, 3 MTU, 4 up/down.
    static func linkChanges(from current: ObservedLink, to desired: LinkSpec) -> [(Int, LinkChange, String)] {
        var out: [(Int, LinkChange, String)] = []
        let have = current.spec
        if !current.owned { out.append((0, .adopt, "unowned")) }
        if have.master != desired.master { out.append((1, .master(desired.master), have.master ?? "none")) }
        switch (have.kind, desired.kind) {
        case (.bond(let a), .bond(let b)):
            if a.miimon != b.miimon { out.append((2, .bondMiimon(b.miimon), String(a.miimon))) }
            if a.useCarrier != b.useCarrier { out.append((2, .bondUseCarrier(b.useCarrier), a.useCarrier ? "1" : "0")) }
            if a.primary != b.primary { out.append((2, .bondPrimary(b.primary), a.primary ?? "none")) }
            if a.numPeerNotif != b.numPeerNotif {
                out.append((2, .bondNumPeerNotif(b.numPeerNotif), String(a.numPeerNotif)))
            }
        case (.ip6tnl(let a), .ip6tnl(let b)) where a != b:
            out.append((2, .tunnelEndpoints(b), "local \(a.local) remote \(a.remote)"))
        default:
            break
        }
        if let mtu = desired.mtu, have.mtu != mtu { out.append((3, .mtu(mtu), have.mtu.map(String.init) ?? "unset")) }
        if have.up != desired.up { out.append((4, .up(desired.up), have.up ? "up" : "down")) }
        return out
    }

    // MARK: - Addresses

    private static func planAddresses(
        _ addresses: [AddressSpec],
        model: inout ObservedState,
        actions: inout [PlanAction],
        conflicts: inout [HAVPNError]
    ) {
        for address in addresses {
            let holders = model.addresses.filter {
                $0.spec.device == address.device && $0.spec.address == address.address
            }
            if holders.contains(where: { $0.spec.prefixLength == address.prefixLength }) { continue }
            if let foreign = holders.first(where: { !$0.owned }) {
                conflicts.append(
                    HAVPNError(
                        .conflict,
                        "address \(address.address) on \(address.device) is held by a foreign address with prefix /\(foreign.spec.prefixLength), want /\(address.prefixLength)",
                        object: "address \(address.address)/\(address.prefixLength) dev \(address.device)"
                    )
                )
                continue
            }
            let action = PlanAction.addAddress(address)
            actions.append(action)
            apply(action, to: &model)
        }
    }

    // MARK: - Routes

    private static func planRoutes(
        _ routes: [RouteSpec],
        model: ObservedState,
        actions: inout [PlanAction],
        conflicts: inout [HAVPNError]
    ) {
        // Indexed once: a per-route scan of the model is quadratic, seconds at 10,000 routes.
        var holdersByKey = Dictionary(grouping: model.routes, by: \.spec.key)
        let linkNames = Set(model.links.map(\.spec.name))
        for route in routes {
            let holders = holdersByKey[route.key] ?? []
            if holders.contains(where: { $0.owned && $0.spec == route }) { continue }
            if let foreign = holders.first(where: { !$0.owned }) {
                conflicts.append(
                    HAVPNError(
                        .conflict,
                        "route \(route.destination) metric \(route.metric) is held by a foreign route (dev \(foreign.spec.device) proto \(foreign.routeProtocol)); not replacing it",
                        object: "route \(route.destination) dev \(route.device)"
                    )
                )
                continue
            }
            guard linkNames.contains(route.device) else {
                conflicts.append(
                    HAVPNError(
                        .conflict,
                        "route \(route.destination) goes through \(route.device), which does not exist",
                        object: "route \(route.destination) dev \(route.device)"
                    )
                )
                continue
            }
            let action: PlanAction =
                if let owned = holders.first(where: \.owned) {
                    .replaceRoute(from: owned.spec, to: route)
                } else {
                    .addRoute(route)
                }
            actions.append(action)
            // Routes are the last phase: nothing reads the model after it, so only the index is
            // kept current (simulating each route would scan the model again).
            holdersByKey[route.key] =
                holders.filter { !$0.owned } + [ObservedRoute(spec: route, routeProtocol: havpnRouteProtocol)]
        }
    }

    // MARK: - Normalisation (order independence)

    /// Sorted, de-duplicated observed lists, so the plan does not depend on the kernel's dump order.
    static func normalized(_ observed: ObservedState) -> ObservedState {
        var seenLinks: Set<String> = []
        let links = observed.links.sorted(by: linkOrder).filter { seenLinks.insert($0.spec.name).inserted }
        let addresses = Array(Set(observed.addresses)).sorted {
            ($0.spec, $0.owned ? 0 : 1, $0.spec.nodad ? 0 : 1) < ($1.spec, $1.owned ? 0 : 1, $1.spec.nodad ? 0 : 1)
        }
        // The order of `(spec, routeProtocol)`: destination, metric, device, protocol.
        let routes = observed.routes.sortedUnique(
            key: { RouteOrderKey($0.spec.destination, metric: $0.spec.metric) },
            tieBreak: { ($0.spec.device, $0.routeProtocol) < ($1.spec.device, $1.routeProtocol) },
            same: ==
        )
        return ObservedState(
            links: links,
            addresses: addresses,
            routes: routes,
            sysctls: observed.sysctls,
            ruleset: observed.ruleset
        )
    }

    /// A total order on observed links (name first), so even duplicate names resolve the same way.
    private static func linkOrder(_ a: ObservedLink, _ b: ObservedLink) -> Bool {
        if a.spec.name != b.spec.name { return a.spec.name < b.spec.name }
        if a.owned != b.owned { return a.owned }
        return String(describing: a.spec) < String(describing: b.spec)
    }

    private static func uniqueByName(_ links: [LinkSpec]) -> [LinkSpec] {
        var seen: Set<String> = []
        return links.sorted { $0.name < $1.name }.filter { seen.insert($0.name).inserted }
    }

    private static func uniqueByKey(_ sysctls: [SysctlSpec]) -> [SysctlSpec] {
        var seen: Set<String> = []
        return sysctls.sorted().filter { seen.insert($0.key).inserted }
    }

    /// Sorted by key first, so the routes of one key are neighbours and the first of them is kept.
    private static func uniqueByRouteKey(_ routes: [RouteSpec]) -> [RouteSpec] {
        routes.sortedUnique(
            key: { RouteOrderKey($0.destination, metric: $0.metric) },
            tieBreak: { $0.device < $1.device },
            same: { $0.key == $1.key }
        )
    }

    private static func uniqueBySlot(_ addresses: [AddressSpec]) -> [AddressSpec] {
        var seen: Set<String> = []
        return addresses.sorted().filter { seen.insert("\($0.device) \($0.address)").inserted }
    }

    private static func trimmed(_ s: String) -> String {
        var t = Substring(s)
        while let c = t.first, c.isWhitespace { t.removeFirst() }
        while let c = t.last, c.isWhitespace { t.removeLast() }
        return String(t)
    }
}

/// An address as the kernel identifies it for havpn's purposes: device, address and prefix.
struct AddressSlot: Hashable {
    var device: String
    var address: IPAddress
    var prefixLength: Int
    init(_ spec: AddressSpec) {
        device = spec.device
        address = spec.address
        prefixLength = spec.prefixLength
    }
}

extension LinkKind {
    /// Taps and bonds form the L2 fabric; everything else (tunnels) is built on the bond's address.
    var isFabric: Bool {
        switch self {
        case .tap, .bond: true
        case .ip6tnl, .other: false
        }
    }
}
