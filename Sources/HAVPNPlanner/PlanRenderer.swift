import HAVPNModel

/// How many objects a plan adds, changes and destroys, counted like terraform: a link created in
/// the plan and then enslaved and set up is one addition; a recreated link is one of each.
public struct PlanSummary: Hashable, Sendable {
    public var add: Int
    public var change: Int
    public var destroy: Int

    public init(add: Int = 0, change: Int = 0, destroy: Int = 0) {
        self.add = add
        self.change = change
        self.destroy = destroy
    }
}

extension Plan {
    public var summary: PlanSummary {
        var s = PlanSummary()
        var created: Set<String> = []
        var changedLinks: Set<String> = []
        for action in actions {
            switch action {
            case .createLink(let spec):
                created.insert(spec.name)
                s.add += 1
            case .addAddress, .addRoute: s.add += 1
            case .deleteLink, .deleteAddress, .deleteRoute: s.destroy += 1
            case .setSysctl, .replaceRoute: s.change += 1
            case .setRulesetChain(_, let from, let to):
                if from.isEmpty { s.add += 1 } else if to.isEmpty { s.destroy += 1 } else { s.change += 1 }
            case .setLink(let name, _, _):
                if !created.contains(name) { changedLinks.insert(name) }
            }
        }
        s.change += changedLinks.count
        return s
    }
}

/// Plans as text for people (terraform-like) and for machines (JSON with a stable key order).
public enum PlanRenderer {
    /// One line per action (`+` add, `~` change, `-` destroy), `!` per conflict, then a summary.
    public static func human(_ plan: Plan) -> String {
        var lines = plan.actions.map(line)
        lines += plan.conflicts.map { "! " + $0.message }
        lines += plan.notes.map { "# " + $0 }
        lines += plan.waiting.map { "# waiting: " + $0 }
        let s = plan.summary
        if plan.actions.isEmpty {
            let n = plan.conflicts.count
            if n > 0 {
                lines.append("No changes. \(n) conflict\(n == 1 ? "" : "s") need\(n == 1 ? "s" : "") attention.")
            } else if !plan.waiting.isEmpty {
                lines.append("No changes. Routes wait for a device openvpn has not brought up (see above).")
            } else {
                lines.append("No changes. Kernel state matches the topology.")
            }
        } else {
            lines.append("Plan: \(s.add) to add, \(s.change) to change, \(s.destroy) to destroy.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `{"actions":[...],"summary":{"add":…,"change":…,"destroy":…},"conflicts":[...]}` plus a newline.
    public static func json(_ plan: Plan) -> String {
        let s = plan.summary
        let root = JSONValue.object(
            [
                ("actions", .array(plan.actions.map(json))),
                ("summary", .object([("add", .int(s.add)), ("change", .int(s.change)), ("destroy", .int(s.destroy))])),
                ("conflicts", .array(plan.conflicts.map(json))),
            ] + (plan.notes.isEmpty ? [] : [("notes", .array(plan.notes.map { .string($0) }))])
                + (plan.waiting.isEmpty ? [] : [("waiting", .array(plan.waiting.map { .string($0) }))])
        )
        return root.text + "\n"
    }

    /// The human line of one action.
    public static func line(_ action: PlanAction) -> String {
        switch action {
        case .setSysctl(let key, let from, let to):
            "~ sysctl \(key): \(from ?? "(unset)") → \(to)"
        case .deleteRoute(let r):
            "- route \(describe(r))"
        case .deleteAddress(let a):
            "- address \(a.address)/\(a.prefixLength) dev \(a.device)"
        case .deleteLink(let name, let kind):
            "- link \(name) (\(kind))"
        case .createLink(let spec):
            "+ link \(spec.name) (\(describeKind(spec.kind))\(spec.mtu.map { ", mtu \($0)" } ?? ""))"
        case .setLink(let name, let change, let from):
            "~ link \(name): \(changeField(change)) \(from) → \(changeValue(change))"
        case .addAddress(let a):
            "+ address \(a.address)/\(a.prefixLength) dev \(a.device)\(a.nodad ? " nodad" : "")"
        case .addRoute(let r):
            "+ route \(describe(r))"
        case .replaceRoute(let from, let to):
            "~ route \(to.destination)\(to.metric == 0 ? "" : " metric \(to.metric)"): dev \(from.device) → \(to.device)"
        case .setRulesetChain(let chain, let from, let to):
            if from.isEmpty {
                "+ ruleset chain \(chain.rawValue) (\(ruleNames(to)))"
            } else if to.isEmpty {
                "- ruleset chain \(chain.rawValue) (\(ruleNames(from)))"
            } else {
                "~ ruleset chain \(chain.rawValue): \(ruleNames(from)) → \(ruleNames(to))"
            }
        }
    }

    /// `havpn:bond0-drop:1a2b3c4d` → `bond0-drop`; a foreign comment stays as it is.
    static func ruleNames(_ ids: [String]) -> String {
        ids.map { id in
            let parts = id.split(separator: ":", omittingEmptySubsequences: false)
            return parts.count == 3 && parts[0] == "havpn" ? String(parts[1]) : id
        }.joined(separator: ", ")
    }

    static func describe(_ r: RouteSpec) -> String {
        "\(r.destination) dev \(r.device)\(r.metric == 0 ? "" : " metric \(r.metric)")"
    }

    static func describeKind(_ kind: LinkKind) -> String {
        switch kind {
        case .tap: "tap"
        case .bond(let b):
            "bond \(b.mode.rawValue), miimon \(b.miimon), fail_over_mac \(b.failOverMAC.rawValue), use_carrier \(b.useCarrier ? 1 : 0), primary \(b.primary ?? "none"), num_peer_notif \(b.numPeerNotif)"
        case .ip6tnl(let t): "ip6tnl local \(t.local) remote \(t.remote)"
        case .other(let k): k
        }
    }

    /// The attribute a change sets, as `ip link` would name it.
    static func changeField(_ change: LinkChange) -> String {
        switch change {
        case .master: "master"
        case .up: "state"
        case .mtu: "mtu"
        case .bondMiimon: "miimon"
        case .bondUseCarrier: "use_carrier"
        case .bondPrimary: "primary"
        case .bondNumPeerNotif: "num_peer_notif"
        case .tunnelEndpoints: "endpoints"
        case .adopt: "owner"
        }
    }

    /// The new value of a change, as text.
    static func changeValue(_ change: LinkChange) -> String {
        switch change {
        case .master(let m): m ?? "none"
        case .up(let up): up ? "up" : "down"
        case .mtu(let mtu): String(mtu)
        case .bondMiimon(let v): String(v)
        case .bondUseCarrier(let v): v ? "1" : "0"
        case .bondPrimary(let p): p ?? "none"
        case .bondNumPeerNotif(let v): String(v)
        case .tunnelEndpoints(let t): "local \(t.local) remote \(t.remote)"
        case .adopt: "havpn"
        }
    }

    static func json(_ action: PlanAction) -> JSONValue {
        switch action {
        case .setSysctl(let key, let from, let to):
            .object([
                ("op", .string("update")), ("object", .string("sysctl")), ("key", .string(key)),
                ("from", .optional(from)), ("to", .string(to)),
            ])
        case .deleteRoute(let r):
            .object([("op", .string("delete")), ("object", .string("route"))] + routeFields(r))
        case .deleteAddress(let a):
            .object([("op", .string("delete")), ("object", .string("address"))] + addressFields(a))
        case .deleteLink(let name, let kind):
            .object([
                ("op", .string("delete")), ("object", .string("link")), ("name", .string(name)),
                ("kind", .string(kind)),
            ])
        case .createLink(let spec):
            .object([("op", .string("create")), ("object", .string("link"))] + StateRenderer.linkFields(spec))
        case .setLink(let name, let change, let from):
            .object([
                ("op", .string("update")), ("object", .string("link")), ("name", .string(name)),
                ("field", .string(changeField(change))), ("from", .string(from)),
                ("to", .string(changeValue(change))),
            ])
        case .addAddress(let a):
            .object([("op", .string("create")), ("object", .string("address"))] + addressFields(a))
        case .addRoute(let r):
            .object([("op", .string("create")), ("object", .string("route"))] + routeFields(r))
        case .replaceRoute(let from, let to):
            .object([
                ("op", .string("replace")), ("object", .string("route")),
                ("destination", .string(to.destination.description)), ("metric", .int(to.metric)),
                ("fromDevice", .string(from.device)), ("device", .string(to.device)),
            ])
        case .setRulesetChain(let chain, let from, let to):
            .object([
                ("op", .string(from.isEmpty ? "create" : to.isEmpty ? "delete" : "update")),
                ("object", .string("ruleset-chain")), ("chain", .string(chain.rawValue)),
                ("from", .array(from.map { .string($0) })), ("to", .array(to.map { .string($0) })),
            ])
        }
    }

    static func json(_ error: HAVPNError) -> JSONValue {
        .object([
            ("code", .string(error.code.rawValue)), ("message", .string(error.message)),
            ("object", .optional(error.object)),
        ])
    }

    static func routeFields(_ r: RouteSpec) -> [(String, JSONValue)] {
        [
            ("destination", .string(r.destination.description)), ("device", .string(r.device)),
            ("metric", .int(r.metric)),
        ]
    }

    static func addressFields(_ a: AddressSpec) -> [(String, JSONValue)] {
        [
            ("device", .string(a.device)), ("address", .string("\(a.address)/\(a.prefixLength)")),
            ("nodad", .bool(a.nodad)),
        ]
    }
}
