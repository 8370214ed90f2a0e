internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// Builds RTM_NEWADDR / RTM_DELADDR requests with libnl-route's rtnl_addr; IFA_PROTO, which
/// rtnl_addr does not know in 3.7, is added with `nla_put_u8`.
enum AddressRequests {
    private static func build(
        _ batch: inout NetlinkBatch, _ spec: AddressSpec, index: Int32,
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

/// Builds RTM_NEWROUTE / RTM_DELROUTE requests: main table, unicast, a device-only nexthop,
/// havpn's protocol.
enum RouteRequests {
    private static func header(_ spec: RouteSpec, scope: UInt8) -> rtmsg {
        var header = rtmsg()
        header.rtm_family = UInt8(spec.destination.family == .ipv4 ? AF_INET : AF_INET6)
        header.rtm_dst_len = UInt8(spec.destination.prefixLength)
        header.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
        header.rtm_protocol = havpnRouteProtocol
        header.rtm_scope = scope
        header.rtm_type = UInt8(RTN_UNICAST)
        return header
    }

    private static func putAttributes(_ batch: inout NetlinkBatch, _ spec: RouteSpec, oif: Int32) {
        if spec.destination.prefixLength > 0 {
            batch.put(Int(RTA_DST.rawValue), spec.destination.address.bytes)
        }
        batch.put(Int(RTA_OIF.rawValue), u32: UInt32(bitPattern: oif))
        let metric = kernelMetric(spec)
        if metric != 0 { batch.put(Int(RTA_PRIORITY.rawValue), u32: metric) }
        batch.put(Int(RTA_TABLE.rawValue), u32: UInt32(RT_TABLE_MAIN.rawValue))
    }

    /// `replace`: NLM_F_REPLACE, i.e. `ip route replace` (same destination and metric).
    static func add(_ batch: inout NetlinkBatch, _ spec: RouteSpec, oif: Int32, replace: Bool) {
        let flags = replace ? NLM_F_CREATE | NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL
        batch.beginMessage(type: Int(RTM_NEWROUTE), flags: Int32(flags))
        // A device-only route is on-link: scope link (IPv6 keeps universe; the kernel ignores it).
        let scope = spec.destination.family == .ipv4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE
        batch.appendFixed(header(spec, scope: UInt8(scope.rawValue)))
        putAttributes(&batch, spec, oif: oif)
        batch.endMessage()
    }

    /// Deletes only a route carrying havpn's protocol: the kernel matches the protocol, so a
    /// foreign route with the same destination is never removed by mistake.
    static func delete(_ batch: inout NetlinkBatch, _ spec: RouteSpec, oif: Int32) {
        batch.beginMessage(type: Int(RTM_DELROUTE), flags: 0)
        batch.appendFixed(header(spec, scope: UInt8(RT_SCOPE_NOWHERE.rawValue)))
        putAttributes(&batch, spec, oif: oif)
        batch.endMessage()
    }
}

extension in6_addr {
    /// The address from its 16 bytes in network order.
    init(_ bytes: [UInt8]) {
        self.init()
        withUnsafeMutableBytes(of: &self) { $0.copyBytes(from: bytes.prefix(16)) }
    }
}
