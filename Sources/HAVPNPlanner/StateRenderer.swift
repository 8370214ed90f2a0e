import HAVPNModel

/// `havpn show`: havpn's own objects in an observed state (owned links, owned addresses, routes with
/// havpn's protocol) plus the declared sysctls' values, as YAML or JSON, sorted.
public enum StateRenderer {
    public static func yaml(_ observed: ObservedState) -> String {
        let state = owned(observed)
        var out = "links:" + (state.links.isEmpty ? " []" : "") + "\n"
        for link in state.links {
            let fields = linkFields(link.spec)
            out += "  - " + fields.map(yamlPair).joined(separator: "\n    ") + "\n"
        }
        out += "addresses:" + (state.addresses.isEmpty ? " []" : "") + "\n"
        for a in state.addresses {
            out += "  - " + PlanRenderer.addressFields(a.spec).map(yamlPair).joined(separator: "\n    ") + "\n"
        }
        out += "routes:" + (state.routes.isEmpty ? " []" : "") + "\n"
        for r in state.routes {
            out += "  - " + PlanRenderer.routeFields(r.spec).map(yamlPair).joined(separator: "\n    ") + "\n"
        }
        out += "sysctls:" + (state.sysctls.isEmpty ? " {}" : "") + "\n"
        for key in state.sysctls.keys.sorted() {
            out += "  \(key): \(JSONValue.quote(state.sysctls[key]!))\n"
        }
        return out
    }

    public static func json(_ observed: ObservedState) -> String {
        let state = owned(observed)
        let root = JSONValue.object([
            ("links", .array(state.links.map { .object(linkFields($0.spec)) })),
            ("addresses", .array(state.addresses.map { .object(PlanRenderer.addressFields($0.spec)) })),
            ("routes", .array(state.routes.map { .object(PlanRenderer.routeFields($0.spec)) })),
            ("sysctls", .object(state.sysctls.keys.sorted().map { ($0, .string(state.sysctls[$0]!)) })),
        ])
        return root.text + "\n"
    }

    /// Only havpn's objects, sorted.
    static func owned(_ observed: ObservedState) -> ObservedState {
        let n = Planner.normalized(observed)
        return ObservedState(
            links: n.links.filter(\.owned),
            addresses: n.addresses.filter(\.owned),
            routes: n.routes.filter(\.owned),
            sysctls: n.sysctls
        )
    }

    /// A link's fields in a fixed order; kind options are flattened into the same object.
    static func linkFields(_ spec: LinkSpec) -> [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("name", .string(spec.name)), ("kind", .string(spec.kind.kindName))]
        switch spec.kind {
        case .bond(let b):
            fields += [
                ("mode", .string(b.mode.rawValue)), ("miimon", .int(b.miimon)),
                ("failOverMAC", .string(b.failOverMAC.rawValue)), ("useCarrier", .bool(b.useCarrier)),
                ("primary", .optional(b.primary)), ("numPeerNotif", .int(b.numPeerNotif)),
            ]
        case .ip6tnl(let t):
            fields += [("local", .string(t.local.description)), ("remote", .string(t.remote.description))]
        case .tap, .other:
            break
        }
        fields += [("master", .optional(spec.master)), ("mtu", .optional(spec.mtu)), ("up", .bool(spec.up))]
        return fields
    }

    /// `key: value` with JSON-style scalars, which YAML 1.2 reads as the same values.
    private static func yamlPair(_ pair: (String, JSONValue)) -> String { "\(pair.0): \(pair.1.text)" }
}
