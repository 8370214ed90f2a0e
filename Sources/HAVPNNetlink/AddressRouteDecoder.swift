internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// IPv6 has no route metric 0: the kernel stores "no metric" as 1024 (IP6_RT_PRIO_USER).
/// havpn's specs say 0 for "no metric" in both families, so IPv6 1024 reads as 0 and 0 is sent
/// as 1024 (a delete with 0 would match any metric).
let ipv6DefaultRouteMetric: UInt32 = 1024

func kernelMetric(_ route: RouteSpec) -> UInt32 {
    route.destination.family == .ipv6 && route.metric == 0 ? ipv6DefaultRouteMetric : UInt32(route.metric)
}

func ipAddress(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
    switch bytes.count {
    case 4: .v4(IPv4Address(bytes: Array(bytes)))
    case 16: .v6(IPv6Address(bytes: Array(bytes)))
    default: nil
    }
}

/// Parses RTM_NEWADDR messages with `nlmsg_parse` (libnl-route's rtnl_addr does not know
/// IFA_PROTO in 3.7).
enum AddressDecoder {
    /// The address in `message` if it sits on one of `devices` (ifindex → name).
    static func decode(_ message: NetlinkMessage, devices: [Int32: String]) -> ObservedAddress? {
        guard message.type == Int(RTM_NEWADDR), let header = message.familyHeader(ifaddrmsg.self),
            let device = devices[Int32(bitPattern: header.ifa_index)],
            let attributes = message.attributes(
                after: ifaddrmsg.self,
                maxType: HAVPN_IFA_MAX,
                policy: havpn_address_policy()
            )
        else { return nil }
        // IFA_FLAGS carries the full 32-bit flags; ifa_flags only the low 8.
        let flags = attributes.u32(Int(IFA_FLAGS)) ?? UInt32(header.ifa_flags)
        let proto = attributes.u8(Int(IFA_PROTO)) ?? 0
        // IFA_LOCAL is the address itself (IPv4, or IPv6 with a peer); IFA_ADDRESS otherwise.
        guard let ip = (attributes.raw(Int(IFA_LOCAL)) ?? attributes.raw(Int(IFA_ADDRESS))).flatMap(ipAddress)
        else { return nil }
        let spec = AddressSpec(
            device: device,
            address: ip,
            prefixLength: Int(header.ifa_prefixlen),
            nodad: flags & UInt32(IFA_F_NODAD) != 0
        )
        return ObservedAddress(spec: spec, owned: proto == havpnRouteProtocol)
    }
}

/// Parses RTM_NEWROUTE messages with `nlmsg_parse`: main table, unicast, IPv4 and IPv6.
enum RouteDecoder {
    static func decode(_ message: NetlinkMessage, names: [Int32: String]) -> ObservedRoute? {
        guard message.type == Int(RTM_NEWROUTE), let header = message.familyHeader(rtmsg.self),
            header.rtm_type == UInt8(RTN_UNICAST),
            header.rtm_family == UInt8(AF_INET) || header.rtm_family == UInt8(AF_INET6),
            header.rtm_flags & UInt32(RTM_F_CLONED) == 0,
            let attributes = message.attributes(after: rtmsg.self, maxType: HAVPN_RTA_MAX, policy: havpn_route_policy())
        else { return nil }
        let table = attributes.u32(Int(RTA_TABLE.rawValue)) ?? UInt32(header.rtm_table)
        guard table == UInt32(RT_TABLE_MAIN.rawValue) else { return nil }
        var oif = attributes.u32(Int(RTA_OIF.rawValue)).map { Int32(bitPattern: $0) }
        // A multipath route has no RTA_OIF; report the first nexthop's device (the policy
        // guarantees one rtnexthop's worth of bytes).
        if oif == nil, let nexthops = attributes.raw(Int(RTA_MULTIPATH.rawValue)) {
            oif = nexthops.loadUnaligned(as: rtnexthop.self).rtnh_ifindex
        }
        let priority = attributes.u32(Int(RTA_PRIORITY.rawValue)) ?? 0
        let isIPv6 = header.rtm_family == UInt8(AF_INET6)
        let zero: IPAddress = isIPv6 ? .v6(IPv6Address(high: 0, low: 0)) : .v4(IPv4Address(0))
        let prefix = Int(header.rtm_dst_len)
        let destination = attributes.raw(Int(RTA_DST.rawValue)).map(ipAddress) ?? zero
        guard let network = destination, prefix <= network.bitWidth else { return nil }
        let metric = isIPv6 && priority == ipv6DefaultRouteMetric ? 0 : Int(priority)
        let spec = RouteSpec(
            destination: IPNetwork(address: network, prefixLength: prefix),
            device: oif.flatMap { names[$0] } ?? "",
            metric: metric
        )
        return ObservedRoute(spec: spec, routeProtocol: header.rtm_protocol)
    }
}
