internal import CNetlink
import HAVPNModel
import HAVPNPlanner

/// One link as an RTM_NEWLINK message reports it, with ifindexes not yet resolved to names
/// (the master or the bond's primary may come later in the same dump).
struct LinkRecord {
    var index: Int32
    var name = ""
    var flags: UInt32
    /// ARPHRD_* hardware type, to name links that report no kind.
    var hardwareType: UInt16 = 0
    var mtu = 0
    var masterIndex: Int32?
    var alias: String?
    var kind: String?
    /// IFLA_TUN_TYPE: IFF_TUN (1) or IFF_TAP (2).
    var tunType: UInt8?
    var bond = BondRecord()
    var tunnel = TunnelRecord()

    struct BondRecord {
        var mode: UInt8?
        var miimon: UInt32?
        var failOverMAC: UInt8?
        var useCarrier: UInt8?
        var primaryIndex: Int32?
        var numPeerNotif: UInt8?
    }

    struct TunnelRecord {
        var local: [UInt8]?
        var remote: [UInt8]?
        var proto: UInt8?
        var flags: UInt32?
    }
}

/// Parses RTM_NEWLINK messages with libnl's `nlmsg_parse` / `nla_parse_nested` and policies.
/// libnl-route's rtnl_link cache cannot read bond options or tun info in 3.7, so the decoder
/// reads the attributes itself.
enum LinkDecoder {
    static func decode(_ message: NetlinkMessage) -> LinkRecord? {
        guard message.type == Int(RTM_NEWLINK), let header = message.familyHeader(ifinfomsg.self),
            let attributes = message.attributes(
                after: ifinfomsg.self,
                maxType: HAVPN_IFLA_MAX,
                policy: havpn_link_policy()
            )
        else { return nil }
        var link = LinkRecord(index: header.ifi_index, flags: header.ifi_flags, hardwareType: header.ifi_type)
        link.name = attributes.string(Int(IFLA_IFNAME)) ?? ""
        link.mtu = Int(attributes.u32(Int(IFLA_MTU)) ?? 0)
        link.masterIndex = attributes.u32(Int(IFLA_MASTER)).map { Int32(bitPattern: $0) }
        link.alias = attributes.string(Int(IFLA_IFALIAS))
        if let info = attributes.nested(
            Int(IFLA_LINKINFO),
            maxType: HAVPN_IFLA_INFO_MAX,
            policy: havpn_link_info_policy()
        ) {
            decodeLinkInfo(info, into: &link)
        }
        return link
    }

    private static func decodeLinkInfo(_ info: NetlinkAttributes, into link: inout LinkRecord) {
        link.kind = info.string(Int(IFLA_INFO_KIND))
        let data = Int(IFLA_INFO_DATA)
        switch link.kind {
        case "bond":
            guard let bond = info.nested(data, maxType: HAVPN_IFLA_BOND_MAX, policy: havpn_bond_policy()) else {
                return
            }
            link.bond.mode = bond.u8(Int(IFLA_BOND_MODE))
            link.bond.miimon = bond.u32(Int(IFLA_BOND_MIIMON))
            link.bond.failOverMAC = bond.u8(Int(IFLA_BOND_FAIL_OVER_MAC))
            link.bond.useCarrier = bond.u8(Int(IFLA_BOND_USE_CARRIER))
            link.bond.primaryIndex = bond.u32(Int(IFLA_BOND_PRIMARY)).map { Int32(bitPattern: $0) }
            link.bond.numPeerNotif = bond.u8(Int(IFLA_BOND_NUM_PEER_NOTIF))
        case "ip6tnl":
            guard let tunnel = info.nested(data, maxType: HAVPN_IFLA_IPTUN_MAX, policy: havpn_ip6tnl_policy())
            else { return }
            link.tunnel.local = tunnel.bytes(Int(IFLA_IPTUN_LOCAL))
            link.tunnel.remote = tunnel.bytes(Int(IFLA_IPTUN_REMOTE))
            link.tunnel.proto = tunnel.u8(Int(IFLA_IPTUN_PROTO))
            link.tunnel.flags = tunnel.u32(Int(IFLA_IPTUN_FLAGS))
        case "tun":
            link.tunType = info.nested(data, maxType: HAVPN_IFLA_TUN_MAX, policy: havpn_tun_policy())?
                .u8(Int(IFLA_TUN_TYPE))
        default:
            break
        }
    }

    /// The observed form of `link`; `names` maps every ifindex of the dump to its name.
    static func observed(_ link: LinkRecord, names: [Int32: String]) -> ObservedLink {
        let spec = LinkSpec(
            name: link.name,
            kind: kind(of: link, names: names),
            master: link.masterIndex.flatMap { names[$0] },
            mtu: link.mtu,
            up: link.flags & UInt32(IFF_UP.rawValue) != 0
        )
        return ObservedLink(spec: spec, owned: link.alias == havpnLinkAlias)
    }

    /// A bond or ip6tnl that havpn cannot describe (another bond mode; a tunnel that is not
    /// `mode any encaplimit none`) reads as `.other(kind)`, so a planner sees it differs from
    /// any desired spec and never mistakes it for a matching one.
    private static func kind(of link: LinkRecord, names: [Int32: String]) -> LinkKind {
        switch link.kind {
        case "tun":
            return link.tunType == UInt8(IFF_TAP) ? .tap : .other("tun")
        case "bond":
            let bond = link.bond
            guard let mode = bond.mode.flatMap(bondMode), let failOverMAC = bond.failOverMAC.flatMap(failOverMAC)
            else { return .other("bond") }
            return .bond(
                BondSpec(
                    mode: mode,
                    miimon: Int(bond.miimon ?? 0),
                    failOverMAC: failOverMAC,
                    useCarrier: (bond.useCarrier ?? 1) != 0,
                    primary: bond.primaryIndex.flatMap { names[$0] },
                    numPeerNotif: Int(bond.numPeerNotif ?? 1)
                )
            )
        case "ip6tnl":
            let tunnel = link.tunnel
            guard tunnel.proto == 0, (tunnel.flags ?? 0) & UInt32(IP6_TNL_F_IGN_ENCAP_LIMIT) != 0,
                let local = tunnel.local, local.count == 16, let remote = tunnel.remote, remote.count == 16
            else { return .other("ip6tnl") }
            return .ip6tnl(TunnelSpec(local: IPv6Address(bytes: local), remote: IPv6Address(bytes: remote)))
        case let other?:
            return .other(other)
        case nil:
            // Links without rtnl_link_ops (lo, physical NICs) report no kind.
            return .other(link.hardwareType == UInt16(ARPHRD_LOOPBACK) ? "loopback" : "device")
        }
    }

    private static func bondMode(_ value: UInt8) -> Topology.BondMode? {
        Topology.BondMode.allCases.first { $0.kernelValue == value }
    }

    private static func failOverMAC(_ value: UInt8) -> Topology.FailOverMAC? {
        Topology.FailOverMAC.allCases.first { $0.kernelValue == value }
    }
}
