import HAVPNModel
import HAVPNPlanner

/// The planner laws as checkers returning violations (empty = the law holds), so fixtures and
/// property tests share them and a failure names what went wrong.
enum Laws {
    /// Converge: after the plan, havpn's objects are exactly the desired ones (minus reported conflicts).
    static func convergence(desired: DesiredState, plan: Plan, final: ObservedState) -> [String] {
        var v: [String] = []
        let declared = Set(desired.links.map(\.name))
        let conflictObjects = Set(plan.conflicts.compactMap(\.object))
        for want in desired.links {
            guard let have = final.links.first(where: { $0.spec.name == want.name }) else {
                v.append("link \(want.name) missing")
                continue
            }
            if !have.owned { v.append("link \(want.name) not owned") }
            if have.spec.kind != want.kind { v.append("link \(want.name) kind \(have.spec.kind) ≠ \(want.kind)") }
            if have.spec.master != want.master {
                v.append("link \(want.name) master \(String(describing: have.spec.master))")
            }
            if have.spec.up != want.up { v.append("link \(want.name) up \(have.spec.up)") }
            if let mtu = want.mtu, have.spec.mtu != mtu {
                v.append("link \(want.name) mtu \(String(describing: have.spec.mtu))")
            }
        }
        for link in final.links where link.owned && !declared.contains(link.spec.name) {
            v.append("stale owned link \(link.spec.name) left")
        }
        for a in desired.addresses
        where !conflictObjects.contains("address \(a.address)/\(a.prefixLength) dev \(a.device)")
            && !final.addresses.contains(where: {
                $0.spec.device == a.device && $0.spec.address == a.address && $0.spec.prefixLength == a.prefixLength
            })
        {
            v.append("address \(a.address)/\(a.prefixLength) dev \(a.device) missing")
        }
        for a in final.addresses where a.owned && declared.contains(a.spec.device) {
            if !desired.addresses.contains(where: {
                $0.device == a.spec.device && $0.address == a.spec.address && $0.prefixLength == a.spec.prefixLength
            }) {
                v.append("stale owned address \(a.spec.address) on \(a.spec.device) left")
            }
        }
        // Routes through an external link (openvpn's tun0) that is absent or down wait for it.
        let waitingFor = Set(
            desired.externalLinks.filter { name in !final.links.contains { $0.spec.name == name && $0.spec.up } }
        )
        for r in desired.routes
        where !conflictObjects.contains("route \(r.destination) dev \(r.device)") && !waitingFor.contains(r.device)
            && !final.routes.contains(where: { $0.owned && $0.spec == r })
        {
            v.append("route \(r.destination) dev \(r.device) missing")
        }
        for r in final.routes where r.owned && !desired.routes.contains(r.spec) {
            v.append("stale owned route \(r.spec.destination) dev \(r.spec.device) left")
        }
        for s in desired.sysctls where final.sysctls[s.key] != s.value {
            v.append("sysctl \(s.key) = \(final.sysctls[s.key] ?? "nil")")
        }
        if let ruleset = desired.ruleset, final.ruleset.chains != ruleset.fingerprint {
            v.append("ruleset \(final.ruleset.chains) ≠ desired \(ruleset.fingerprint)")
        }
        return v
    }

    /// Order: walking the plan through the simulator, every action's prerequisites exist at its turn,
    /// and deletions only delete what exists.
    static func ordering(_ plan: Plan, on observed: ObservedState) -> [String] {
        var v: [String] = []
        var s = observed
        func link(_ name: String) -> ObservedLink? { s.links.first { $0.spec.name == name } }
        var setUp: Set<String> = []
        for (n, action) in plan.actions.enumerated() {
            let at = "#\(n) \(PlanRenderer.line(action))"
            switch action {
            case .setSysctl, .setRulesetChain: break
            case .deleteRoute(let r):
                if !s.routes.contains(where: { $0.spec == r }) { v.append("\(at): route does not exist") }
            case .deleteAddress(let a):
                if !s.addresses.contains(where: { $0.spec.device == a.device && $0.spec.address == a.address }) {
                    v.append("\(at): address does not exist")
                }
            case .deleteLink(let name, _):
                if link(name) == nil { v.append("\(at): link does not exist") }
            case .createLink(let spec):
                if link(spec.name) != nil { v.append("\(at): link exists") }
                if spec.master != nil || spec.up { v.append("\(at): created enslaved or up") }
                if case .bond(let b) = spec.kind, let p = b.primary, link(p) == nil {
                    v.append("\(at): primary \(p) does not exist yet")
                }
            case .setLink(let name, let change, _):
                guard let l = link(name) else {
                    v.append("\(at): link does not exist")
                    break
                }
                if case .master(let m?) = change {
                    guard let master = link(m) else {
                        v.append("\(at): master does not exist")
                        break
                    }
                    if case .bond = master.spec.kind {} else { v.append("\(at): master is not a bond") }
                }
                // A link is enslaved before it is set up (the kernel may refuse to enslave an up link).
                if case .master = change, setUp.contains(name) { v.append("\(at): enslaved after being set up") }
                if case .up(true) = change { setUp.insert(name) }
                _ = l
            case .addAddress(let a):
                guard let l = link(a.device) else {
                    v.append("\(at): device does not exist")
                    break
                }
                if !l.spec.up { v.append("\(at): device is down") }
                if s.addresses.contains(where: { $0.spec.device == a.device && $0.spec.address == a.address }) {
                    v.append("\(at): address exists")
                }
            case .addRoute(let r), .replaceRoute(_, let r):
                guard let l = link(r.device) else {
                    v.append("\(at): device does not exist")
                    break
                }
                if !l.spec.up { v.append("\(at): device is down") }
                if case .addRoute = action, s.routes.contains(where: { $0.spec.key == r.key }) {
                    v.append("\(at): key is held")
                }
                if case .replaceRoute(let from, _) = action, !s.routes.contains(where: { $0.owned && $0.spec == from })
                {
                    v.append("\(at): replaced route is not an owned existing one")
                }
            }
            Planner.apply(action, to: &s)
        }
        return v
    }

    /// Ownership: no action targets a foreign object; foreign objects not on a deleted link survive.
    static func ownership(_ plan: Plan, desired: DesiredState, observed: ObservedState) -> [String] {
        var v: [String] = []
        let declared = Set(desired.links.map(\.name))
        let ownedLinks = Set(observed.links.filter(\.owned).map(\.spec.name))
        var s = observed
        for action in plan.actions {
            let at = PlanRenderer.line(action)
            switch action {
            case .deleteLink(let name, _):
                if !declared.contains(name) && !ownedLinks.contains(name) { v.append("\(at): foreign link") }
                if desired.externalLinks.contains(name) { v.append("\(at): external link") }
            case .setLink(let name, _, _):
                if !declared.contains(name) { v.append("\(at): undeclared link") }
            case .deleteAddress(let a):
                if !s.addresses.contains(where: { $0.spec == a && $0.owned }) { v.append("\(at): foreign address") }
            case .deleteRoute(let r):
                if !s.routes.contains(where: { $0.spec == r && $0.owned }) { v.append("\(at): foreign route") }
            case .replaceRoute(let from, _):
                if !s.routes.contains(where: { $0.spec == from && $0.owned }) { v.append("\(at): foreign route") }
            default: break
            }
            Planner.apply(action, to: &s)
        }
        let deleted = Set(plan.actions.compactMap { if case .deleteLink(let n, _) = $0 { n } else { nil } })
        for l in observed.links where !l.owned && !declared.contains(l.spec.name) {
            if !s.links.contains(where: { $0.spec.name == l.spec.name && $0.spec.kind == l.spec.kind && !$0.owned }) {
                v.append("foreign link \(l.spec.name) gone or changed")
            }
        }
        for a in observed.addresses where !a.owned && !deleted.contains(a.spec.device) && !s.addresses.contains(a) {
            v.append("foreign address \(a.spec.address) on \(a.spec.device) gone")
        }
        for r in observed.routes where !r.owned && !deleted.contains(r.spec.device) && !s.routes.contains(r) {
            v.append("foreign route \(r.spec.destination) dev \(r.spec.device) gone")
        }
        return v
    }
}
