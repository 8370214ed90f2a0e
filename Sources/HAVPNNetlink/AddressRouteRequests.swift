internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// Builds RTM_NEWADDR / RTM_DELADDR requests. Raw, because libnl 3.7 cannot set IFA_PROTO.
enum AddressRequests {
    private static func header(_ spec: AddressSpec, index: Int32) -> ifaddrmsg {
        var header = ifaddrmsg()
        header.ifa_family = UInt8(spec.address.family == .ipv4 ? AF_INET : AF_INET6)
        header.ifa_prefixlen = UInt8(spec.prefixLength)
        header.ifa_flags = spec.nodad ? UInt8(IFA_F_NODAD) : 0
        header.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        header.ifa_index = UInt32(bitPattern: index)
        return header
    }

    static func add(_ batch: inout NetlinkBatch, _ spec: AddressSpec, index: Int32) {
        batch.beginMessage(type: Int(RTM_NEWADDR), flags: Int32(NLM_F_CREATE | NLM_F_EXCL))
        batch.appendFixed(header(spec, index: index))
        // Local and address equal: no peer (what `ip addr add` sends).
        batch.put(Int(IFA_LOCAL), spec.address.bytes)
        batch.put(Int(IFA_ADDRESS), spec.address.bytes)
        batch.put(Int(IFA_FLAGS), u32: spec.nodad ? UInt32(IFA_F_NODAD) : 0)
        batch.put(Int(IFA_PROTO), u8: havpnRouteProtocol)
        batch.endMessage()
    }

    static func delete(_ batch: inout NetlinkBatch, _ spec: AddressSpec, index: Int32) {
        batch.beginMessage(type: Int(RTM_DELADDR), flags: 0)
        batch.appendFixed(header(spec, index: index))
        batch.put(Int(IFA_LOCAL), spec.address.bytes)
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
