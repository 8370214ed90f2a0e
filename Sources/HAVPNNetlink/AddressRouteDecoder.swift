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

/// Parses RTM_NEWADDR messages by hand: libnl 3.7 does not know IFA_PROTO.
enum AddressDecoder {
    /// The address in `message` if it sits on one of `devices` (ifindex → name).
    static func decode(_ message: NetlinkMessage, devices: [Int32: String]) -> ObservedAddress? {
        guard message.type == Int(RTM_NEWADDR), message.payload.count >= MemoryLayout<ifaddrmsg>.size else {
            return nil
        }
        let header = message.payload.loadUnaligned(as: ifaddrmsg.self)
        guard let device = devices[Int32(bitPattern: header.ifa_index)] else { return nil }
        var local: IPAddress?
        var address: IPAddress?
        var flags = UInt32(header.ifa_flags)
        var proto: UInt8 = 0
        NetlinkParse.forEachAttribute(in: NetlinkParse.attributes(after: ifaddrmsg.self, in: message.payload)) {
            type, value in
            switch type {
            case Int(IFA_LOCAL): local = ipAddress(value)
            case Int(IFA_ADDRESS): address = ipAddress(value)
            case Int(IFA_FLAGS): flags = value.netlinkU32 ?? flags  // the full 32-bit flags
            case Int(IFA_PROTO): proto = value.netlinkU8 ?? 0
            default: break
            }
        }
        // IFA_LOCAL is the address itself (IPv4, or IPv6 with a peer); IFA_ADDRESS otherwise.
        guard let ip = local ?? address else { return nil }
        let spec = AddressSpec(
            device: device, address: ip, prefixLength: Int(header.ifa_prefixlen),
            nodad: flags & UInt32(IFA_F_NODAD) != 0)
        return ObservedAddress(spec: spec, owned: proto == havpnRouteProtocol)
    }
}

/// Parses RTM_NEWROUTE messages: main table, unicast, IPv4 and IPv6.
enum RouteDecoder {
    static func decode(_ message: NetlinkMessage, names: [Int32: String]) -> ObservedRoute? {
        guard message.type == Int(RTM_NEWROUTE), message.payload.count >= MemoryLayout<rtmsg>.size else {
            return nil
        }
        let header = message.payload.loadUnaligned(as: rtmsg.self)
        guard header.rtm_type == UInt8(RTN_UNICAST),
            header.rtm_family == UInt8(AF_INET) || header.rtm_family == UInt8(AF_INET6),
            header.rtm_flags & UInt32(RTM_F_CLONED) == 0
        else { return nil }
        var table = UInt32(header.rtm_table)
        var destination: IPAddress?
        var oif: Int32?
        var priority: UInt32 = 0
        NetlinkParse.forEachAttribute(in: NetlinkParse.attributes(after: rtmsg.self, in: message.payload)) {
            type, value in
            switch type {
            case Int(RTA_TABLE.rawValue): table = value.netlinkU32 ?? table
            case Int(RTA_DST.rawValue): destination = ipAddress(value)
            case Int(RTA_OIF.rawValue): oif = value.netlinkU32.map { Int32(bitPattern: $0) }
            case Int(RTA_PRIORITY.rawValue): priority = value.netlinkU32 ?? 0
            case Int(RTA_MULTIPATH.rawValue):
                // A multipath route has no RTA_OIF; report the first nexthop's device.
                if oif == nil, value.count >= MemoryLayout<rtnexthop>.size {
                    oif = value.loadUnaligned(as: rtnexthop.self).rtnh_ifindex
                }
            default: break
            }
        }
        guard table == UInt32(RT_TABLE_MAIN.rawValue) else { return nil }
        let isIPv6 = header.rtm_family == UInt8(AF_INET6)
        let zero: IPAddress = isIPv6 ? .v6(IPv6Address(high: 0, low: 0)) : .v4(IPv4Address(0))
        let prefix = Int(header.rtm_dst_len)
        guard let network = Optional(destination ?? zero), prefix <= network.bitWidth else { return nil }
        let metric = isIPv6 && priority == ipv6DefaultRouteMetric ? 0 : Int(priority)
        let spec = RouteSpec(
            destination: IPNetwork(address: network, prefixLength: prefix),
            device: oif.flatMap { names[$0] } ?? "",
            metric: metric)
        return ObservedRoute(spec: spec, routeProtocol: header.rtm_protocol)
    }
}
