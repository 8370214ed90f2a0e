import HAVPNModel
import HAVPNPlanner
import PropertyBased

/// SplitMix64: a tiny seeded generator so a scenario is a pure function of its seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}

/// One generated case: a topology, an identity, controller inputs, the desired state they give,
/// and an observed state derived from it by random removals and mutations plus foreign and stale
/// owned objects.
struct Scenario: Sendable, CustomStringConvertible {
    var topology: Topology
    var identity: Identity
    var inputs: ControllerInputs
    var desired: DesiredState
    var observed: ObservedState
    var seed: UInt64
    var description: String { "Scenario(\(identity.role) \(identity.index), seed \(seed))" }

    static var generator: Generator<Scenario, some SendableSequenceType> {
        zip(
            Gen.int(in: 1...4),
            Gen.int(in: 1...4),
            Gen.int(in: 0...2),
            Gen.int(in: 0...2),
            Gen.int(in: 0...15),
            Gen.int(in: 0...2),
            Gen.int(in: 0...0xffff),
            Gen.int(in: 0...7),
            Gen<UInt64>.uint64(in: 0...UInt64.max)
        ).map { servers, clients, families, mtu, bondBits, role, index, active, seed in
            Scenario.make(
                servers: servers,
                clients: clients,
                families: families,
                mtu: mtu,
                bondBits: bondBits,
                role: Role.allCases[role],
                index: index,
                active: active,
                seed: seed
            )
        }
    }

    static func make(
        servers: Int,
        clients: Int,
        families: Int,
        mtu: Int,
        bondBits: Int,
        role: Role,
        index: Int,
        active: Int,
        seed: UInt64
    ) -> Scenario {
        var rng = SplitMix(state: seed)
        var t = Topology()
        t.servers = servers
        t.shootClients = clients
        t.ipFamilies = [[.ipv4], [.ipv6], [.ipv4, .ipv6]][families]
        t.mtu = [nil, 1400, 1500][mtu]
        t.bond.mode = bondBits & 1 == 0 ? .activeBackup : .balanceRR
        t.bond.failOverMAC = bondBits & 2 == 0 ? .active : .follow
        t.bond.miimon = bondBits & 4 == 0 ? 100 : 250
        t.bond.primary = bondBits & 8 == 0 ? 0 : nil
        t.filter.input = !rng.chance(0.2)
        t.nat.masquerade = !rng.chance(0.2)
        t.networks.shoot.pods.append(IPNetwork("fd00:10::/48")!)
        t.networks.shoot.services.append(IPNetwork("fd00:20::/112")!)
        t.networks.shoot.nodes = [IPNetwork("10.250.0.0/16")!]
        let plan = AddressPlan(topology: t)
        for n in 0..<Int(rng.next() % 3) {
            t.apiservers.append(Topology.ApiserverInstance(index: 1 + n, podIPs: [IPAddress("10.0.1.\(n + 1)")!]))
        }
        let idx =
            switch role {
            case .apiserver: 1 + index % 0xffff
            case .shoot: index % clients
            case .server: index % servers
            }
        var peers: [ApiserverPeer] = []
        for _ in 0..<Int(rng.next() % 4) {
            let x = rng.pick([1, 2, 3, 0x2a, 0x1234, 0xffff])
            var ips = [IPAddress("10.0.\(rng.next() % 3).\(1 + rng.next() % 5)")!]
            if rng.chance(0.4) { ips.append(IPAddress("fd00:99::\(1 + rng.next() % 5)")!) }
            peers.append(ApiserverPeer(bondAddress: plan.apiserverBondAddress(x), podIPs: ips))
        }
        let inputs = ControllerInputs(activeShootClient: active % clients, apiserverPeers: peers)
        let identity = Identity(role: role, index: idx)
        let desired = try! Planner.desiredState(topology: t, identity: identity, inputs: inputs)
        let observed = observedState(near: desired, topology: t, rng: &rng)
        return Scenario(
            topology: t,
            identity: identity,
            inputs: inputs,
            desired: desired,
            observed: observed,
            seed: seed
        )
    }

    /// A kernel state near `desired`: each desired object absent, exact or mutated; plus foreign
    /// links/addresses/routes, stale owned ones, and sysctl drift. Kernel invariants are kept: routes
    /// and addresses only on existing links, masters exist, one route per (destination, metric).
    static func observedState(near desired: DesiredState, topology: Topology, rng: inout SplitMix) -> ObservedState {
        var o = ObservedState()
        let plan = AddressPlan(topology: topology)
        for want in desired.links {
            if rng.chance(0.2) { continue }
            var l = ObservedLink(spec: want, owned: !rng.chance(0.1))
            if rng.chance(0.15) { l.spec.up = false }
            if rng.chance(0.1) { l.spec.master = rng.pick([nil, "foreignbond"]) }
            if rng.chance(0.1) { l.spec.mtu = rng.pick([nil, 1280, 9000]) }
            if rng.chance(0.05) { l.spec.kind = rng.pick([.other("dummy"), .tap]) }
            switch l.spec.kind {
            case .bond(var b):
                if rng.chance(0.15) { b.miimon = 50 }
                if rng.chance(0.1) { b.useCarrier.toggle() }
                if rng.chance(0.1) { b.primary = rng.pick([nil, "tap1", "tap3"]) }
                if rng.chance(0.1) { b.numPeerNotif = 1 }
                if rng.chance(0.1) { b.mode = b.mode == .activeBackup ? .balanceRR : .activeBackup }
                if rng.chance(0.1) { b.failOverMAC = .none }
                l.spec.kind = .bond(b)
            case .ip6tnl(var tn):
                if rng.chance(0.15) { tn.remote = plan.shootClientBondAddress(9) }
                if rng.chance(0.1) { tn.local = plan.apiserverBondAddress(0x77) }
                l.spec.kind = .ip6tnl(tn)
            default: break
            }
            o.links.append(l)
        }
        // Foreign links, and stale owned ones (never with a declared name).
        let declared = Set(desired.links.map(\.name))
        o.links.append(ObservedLink(spec: LinkSpec(name: "eth0", kind: .other("veth"), mtu: 1500), owned: false))
        if rng.chance(0.5) {
            o.links.append(
                ObservedLink(
                    spec: LinkSpec(
                        name: "foreignbond",
                        kind: .bond(
                            BondSpec(
                                mode: .balanceRR,
                                miimon: 0,
                                failOverMAC: .none,
                                useCarrier: true,
                                primary: nil,
                                numPeerNotif: 1
                            )
                        )
                    ),
                    owned: false
                )
            )
        }
        if rng.chance(0.3) {
            o.links.append(
                ObservedLink(spec: LinkSpec(name: "eth1", kind: .other("veth"), master: "bond0"), owned: false)
            )
        }
        let stale: [LinkSpec] = [
            LinkSpec(name: "tap7", kind: .tap, master: "bond0"),
            LinkSpec(
                name: "bond1",
                kind: .bond(
                    BondSpec(
                        mode: .activeBackup,
                        miimon: 100,
                        failOverMAC: .active,
                        useCarrier: true,
                        primary: nil,
                        numPeerNotif: 5
                    )
                )
            ),
            LinkSpec(
                name: "bond0-ip6tnl9",
                kind: .ip6tnl(TunnelSpec(local: plan.apiserverBondAddress(1), remote: plan.shootClientBondAddress(9)))
            ),
            LinkSpec(
                name: "bond0ip6tnl0abc",
                kind: .ip6tnl(
                    TunnelSpec(local: plan.shootClientBondAddress(0), remote: plan.apiserverBondAddress(0xabc))
                )
            ),
            LinkSpec(name: "havpn-dummy", kind: .other("dummy")),
        ]
        for l in stale where !declared.contains(l.name) && rng.chance(0.3) {
            o.links.append(ObservedLink(spec: l, owned: true))
        }
        // A declared tap enslaved to the stale bond.
        if o.links.contains(where: { $0.spec.name == "bond1" }),
            let i = o.links.firstIndex(where: { $0.spec.name == "tap0" }),
            rng.chance(0.5)
        {
            o.links[i].spec.master = "bond1"
        }
        let names = o.links.map(\.spec.name)
        for i in o.links.indices {
            if let m = o.links[i].spec.master, !names.contains(m) { o.links[i].spec.master = nil }
        }
        // Addresses.
        for a in desired.addresses where names.contains(a.device) {
            switch rng.next() % 10 {
            case 0...5: o.addresses.append(ObservedAddress(spec: a, owned: true))
            case 6:
                o.addresses.append(
                    ObservedAddress(
                        spec: AddressSpec(device: a.device, address: a.address, prefixLength: 64),
                        owned: true
                    )
                )
            case 7: o.addresses.append(ObservedAddress(spec: a, owned: false))
            case 8 where rng.chance(0.3):
                o.addresses.append(
                    ObservedAddress(
                        spec: AddressSpec(device: a.device, address: a.address, prefixLength: 96),
                        owned: false
                    )
                )
            default: break
            }
        }
        for name in names where rng.chance(0.3) {
            let owned = declared.contains(name) && rng.chance(0.5)
            let address = rng.pick([
                IPAddress("fe80::1")!, IPAddress("192.0.2.1")!, .v6(plan.apiserverBondAddress(0x99)),
            ])
            o.addresses.append(
                ObservedAddress(
                    spec: AddressSpec(
                        device: name,
                        address: address,
                        prefixLength: address.family == .ipv4 ? 24 : 64,
                        nodad: false
                    ),
                    owned: owned
                )
            )
        }
        // Routes: desired ones (exact, via another link, foreign), stale owned, foreign.
        var keys: Set<RouteKey> = []
        func add(_ r: RouteSpec, _ proto: UInt8) {
            guard names.contains(r.device), keys.insert(r.key).inserted else { return }
            o.routes.append(ObservedRoute(spec: r, routeProtocol: proto))
        }
        for r in desired.routes {
            var other = r
            other.device = rng.pick(names)
            switch rng.next() % 10 {
            case 0...4: add(r, havpnRouteProtocol)
            case 5, 6: add(other, havpnRouteProtocol)
            case 7: add(other, rng.pick([2, 3, 4]))
            default: break
            }
        }
        for _ in 0..<Int(rng.next() % 4) {
            let dst = rng.pick(["198.51.100.0/24", "10.0.1.1/32", "fd00:99::1/128", "100.64.0.0/13", "203.0.113.0/24"])
            let net = IPNetwork(dst)!
            add(
                RouteSpec(destination: net, device: rng.pick(names), metric: rng.pick([0, 1024])),
                rng.chance(0.5) ? havpnRouteProtocol : 4
            )
        }
        // Sysctls.
        for s in desired.sysctls {
            switch rng.next() % 10 {
            case 0, 1: break
            case 2, 3, 4: o.sysctls[s.key] = s.value == "0" ? "1" : "0"
            default: o.sysctls[s.key] = s.value
            }
        }
        o.sysctls["net.core.somaxconn"] = "4096"
        // The ruleset: each desired chain absent, exact, flushed by hand, edited or with a rule
        // added by hand; plus chains havpn no longer declares (to prune).
        for chain in RulesetChain.allCases {
            let want = desired.ruleset?.rules(in: chain).map(\.id) ?? []
            switch rng.next() % 6 {
            case 0: break
            case 1, 2: o.ruleset.chains[chain] = want.isEmpty ? nil : want
            case 3: o.ruleset.chains[chain] = Array(want.dropLast())
            case 4: o.ruleset.chains[chain] = want + ["unowned-rule"]
            default: o.ruleset.chains[chain] = ["havpn:stale:00000000"]
            }
            if o.ruleset.chains[chain]?.isEmpty == true { o.ruleset.chains[chain] = nil }
        }
        return o
    }

    /// The same state with every list shuffled.
    static func shuffled(_ o: ObservedState, rng: inout SplitMix) -> ObservedState {
        ObservedState(
            links: o.links.shuffled(using: &rng),
            addresses: o.addresses.shuffled(using: &rng),
            routes: o.routes.shuffled(using: &rng),
            sysctls: o.sysctls,
            ruleset: o.ruleset
        )
    }
}
