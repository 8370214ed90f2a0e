internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// Builds RTM_NEWADDR / RTM_DELADDR requests with libnl-route's rtnl_addr; IFA_PROTO, which
/// rtnl_addr does not know in 3.7, is added with `nla_put_u8`.
enum AddressRequests {
    private static func build(
        _ batch: inout NetlinkBatch,
        _ spec: AddressSpec,
        index: Int32,
        _ request: (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> Int32
    ) {
        guard let address = rtnl_addr_alloc() else { fatalError("rtnl_addr_alloc: out of memory") }
        defer { rtnl_addr_put(address) }
        let family = spec.address.family == .ipv4 ? AF_INET : AF_INET6
        let bytes = spec.address.bytes
        guard let local = nl_addr_build(family, bytes, bytes.count) else { fatalError("nl_addr_build: out of memory") }
        defer { nl_addr_put(local) }
        rtnl_addr_set_ifindex(address, index)
        // Local and address equal: no peer (what `ip addr add` sends; rtnl_addr puts IFA_LOCAL
        // and IFA_ADDRESS both).
        _ = rtnl_addr_set_local(address, local)
        rtnl_addr_set_prefixlen(address, Int32(spec.prefixLength))
        rtnl_addr_set_scope(address, Int32(RT_SCOPE_UNIVERSE.rawValue))
        if spec.nodad { rtnl_addr_set_flags(address, UInt32(IFA_F_NODAD)) }
        batch.beginMessage { request(address, $0) }
    }

    static func add(_ batch: inout NetlinkBatch, _ spec: AddressSpec, index: Int32) {
        build(&batch, spec, index: index) { rtnl_addr_build_add_request($0, NLM_F_EXCL, $1) }
        batch.put(Int(IFA_PROTO), u8: havpnRouteProtocol)
        batch.endMessage()
    }

    static func delete(_ batch: inout NetlinkBatch, _ spec: AddressSpec, index: Int32) {
        build(&batch, spec, index: index) { rtnl_addr_build_delete_request($0, 0, $1) }
        batch.endMessage()
    }
}

/// Builds RTM_NEWROUTE / RTM_DELROUTE requests with libnl-route's rtnl_route: main table,
/// unicast, one device-only nexthop, havpn's protocol.
enum RouteRequests {
    private static func build(
        _ batch: inout NetlinkBatch,
        _ spec: RouteSpec,
        oif: Int32,
        scope: UInt8,
        _ request: (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>) -> Int32
    ) {
        guard let route = rtnl_route_alloc(), let nexthop = rtnl_route_nh_alloc() else {
            fatalError("rtnl_route_alloc: out of memory")
        }
        defer { rtnl_route_put(route) }  // frees the nexthop too
        let family = spec.destination.family == .ipv4 ? AF_INET : AF_INET6
        // A /0 goes without RTA_DST (what `ip route add default` sends): an empty address.
        let bytes = spec.destination.prefixLength > 0 ? spec.destination.address.bytes : []
        guard let destination = nl_addr_build(family, bytes, bytes.count) else {
            fatalError("nl_addr_build: out of memory")
        }
        defer { nl_addr_put(destination) }
        nl_addr_set_prefixlen(destination, Int32(spec.destination.prefixLength))
        _ = rtnl_route_set_family(route, UInt8(family))
        _ = rtnl_route_set_dst(route, destination)
        rtnl_route_set_table(route, UInt32(RT_TABLE_MAIN.rawValue))
        rtnl_route_set_protocol(route, havpnRouteProtocol)
        rtnl_route_set_scope(route, scope)
        _ = rtnl_route_set_type(route, UInt8(RTN_UNICAST))
        let metric = kernelMetric(spec)
        if metric != 0 { rtnl_route_set_priority(route, metric) }
        rtnl_route_nh_set_ifindex(nexthop, oif)
        rtnl_route_add_nexthop(route, nexthop)
        batch.beginMessage { request(route, $0) }
        batch.endMessage()
    }

    /// `replace`: NLM_F_REPLACE, i.e. `ip route replace` (same destination and metric).
    static func add(_ batch: inout NetlinkBatch, _ spec: RouteSpec, oif: Int32, replace: Bool) {
        // rtnl_route_build_add_request adds NLM_F_CREATE itself.
        let flags = replace ? NLM_F_REPLACE : NLM_F_EXCL
        // A device-only route is on-link: scope link (IPv6 keeps universe; the kernel ignores it).
        let scope = spec.destination.family == .ipv4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE
        build(&batch, spec, oif: oif, scope: UInt8(scope.rawValue)) { rtnl_route_build_add_request($0, flags, $1) }
    }

    /// Deletes only a route carrying havpn's protocol: the kernel matches the protocol, so a
    /// foreign route with the same destination is never removed by mistake.
    static func delete(_ batch: inout NetlinkBatch, _ spec: RouteSpec, oif: Int32) {
        build(&batch, spec, oif: oif, scope: UInt8(RT_SCOPE_NOWHERE.rawValue)) {
            rtnl_route_build_del_request($0, 0, $1)
        }
    }
}

extension in6_addr {
    /// The address from its 16 bytes in network order.
    init(_ bytes: [UInt8]) {
        self.init()
        withUnsafeMutableBytes(of: &self) { $0.copyBytes(from: bytes.prefix(16)) }
    }
}
