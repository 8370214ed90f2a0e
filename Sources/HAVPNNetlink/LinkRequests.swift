internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// Builds RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK requests: ip6tnl links with libnl-route's
/// ip6tnl type; bonds with `nla_put*` (libnl 3.7's bonding API has no fail_over_mac,
/// use_carrier, primary or num_peer_notif); one-attribute changes with `nla_put*` too, since an
/// rtnl_link object per request would only add allocations and an empty IFLA_AF_SPEC.
///
/// Requests address existing links by name (ifi_index 0 plus IFLA_IFNAME, which the kernel
/// resolves itself), so they can be batched right behind the request that creates the link.
/// Only attributes that carry an ifindex (master, bond primary) need a resolved index.
enum LinkRequests {
    private static func header(flags: UInt32 = 0, change: UInt32 = 0) -> ifinfomsg {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        header.ifi_flags = flags
        header.ifi_change = change
        return header
    }

    /// A bond with every option set at creation: mode and fail_over_mac cannot change once
    /// slaves are attached. `primaryIndex` is the primary slave's ifindex: the kernel takes
    /// IFLA_BOND_PRIMARY as an ifindex and remembers the name until that link is enslaved.
    static func createBond(
        _ batch: inout NetlinkBatch,
        name: String,
        bond: BondSpec,
        primaryIndex: Int32?,
        mtu: Int?
    ) {
        batch.beginMessage(type: Int(RTM_NEWLINK), flags: Int32(NLM_F_CREATE | NLM_F_EXCL))
        batch.appendFixed(header())
        batch.put(Int(IFLA_IFNAME), string: name)
        if let mtu { batch.put(Int(IFLA_MTU), u32: UInt32(mtu)) }
        let info = batch.beginNested(Int(IFLA_LINKINFO))
        batch.put(Int(IFLA_INFO_KIND), string: "bond")
        let data = batch.beginNested(Int(IFLA_INFO_DATA))
        // Mode first: the kernel applies the options in attribute-number order anyway, and
        // primary is only valid in active-backup (and the tlb/alb modes).
        batch.put(Int(IFLA_BOND_MODE), u8: bond.mode.kernelValue)
        batch.put(Int(IFLA_BOND_MIIMON), u32: UInt32(bond.miimon))
        batch.put(Int(IFLA_BOND_USE_CARRIER), u8: bond.useCarrier ? 1 : 0)
        batch.put(Int(IFLA_BOND_FAIL_OVER_MAC), u8: bond.failOverMAC.kernelValue)
        batch.put(Int(IFLA_BOND_NUM_PEER_NOTIF), u8: UInt8(clamping: bond.numPeerNotif))
        if let primaryIndex { batch.put(Int(IFLA_BOND_PRIMARY), u32: UInt32(bitPattern: primaryIndex)) }
        batch.endNested(data)
        batch.endNested(info)
        batch.endMessage()
    }

    /// An ip6tnl in `mode any` (proto 0) with `encaplimit none` (IP6_TNL_F_IGN_ENCAP_LIMIT), as
    /// vpn2 creates it, built by libnl-route's ip6tnl link type. No hop limit is sent (0 =
    /// inherit from the inner packet, like vpn2).
    static func createTunnel(_ batch: inout NetlinkBatch, name: String, tunnel: TunnelSpec, mtu: Int?) {
        putTunnel(&batch, name: name, tunnel: tunnel, mtu: mtu, flags: NLM_F_CREATE | NLM_F_EXCL)
    }

    /// ip6_tnl_changelink rebuilds *all* parameters from the request, so the endpoints change
    /// resends proto, encap limit and flags too; leaving them out would reset them to 0. An
    /// RTM_NEWLINK without NLM_F_CREATE for an existing name is a change.
    static func setTunnelEndpoints(_ batch: inout NetlinkBatch, name: String, tunnel: TunnelSpec) {
        putTunnel(&batch, name: name, tunnel: tunnel, mtu: nil, flags: 0)
    }

    private static func putTunnel(
        _ batch: inout NetlinkBatch,
        name: String,
        tunnel: TunnelSpec,
        mtu: Int?,
        flags: Int32
    ) {
        guard let link = rtnl_link_ip6_tnl_alloc() else { fatalError("rtnl_link_ip6_tnl_alloc: out of memory") }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name)
        if let mtu { rtnl_link_set_mtu(link, UInt32(mtu)) }
        var local = in6_addr(tunnel.local.bytes)
        var remote = in6_addr(tunnel.remote.bytes)
        rtnl_link_ip6_tnl_set_local(link, &local)
        rtnl_link_ip6_tnl_set_remote(link, &remote)
        rtnl_link_ip6_tnl_set_proto(link, 0)
        rtnl_link_ip6_tnl_set_encaplimit(link, 0)
        rtnl_link_ip6_tnl_set_flags(link, UInt32(IP6_TNL_F_IGN_ENCAP_LIMIT))
        batch.beginMessage { rtnl_link_build_add_request(link, flags, $0) }
        batch.endMessage()
    }

    /// Bond options that can change while slaves are attached. Only the given ones are sent;
    /// bond_changelink leaves the others alone.
    enum BondOption {
        case miimon(Int)
        case useCarrier(Bool)
        case primaryIndex(Int32)
        case numPeerNotif(Int)
    }

    static func setBondOption(_ batch: inout NetlinkBatch, name: String, _ option: BondOption) {
        beginChange(&batch, name: name)
        let info = batch.beginNested(Int(IFLA_LINKINFO))
        batch.put(Int(IFLA_INFO_KIND), string: "bond")
        let data = batch.beginNested(Int(IFLA_INFO_DATA))
        switch option {
        case .miimon(let value): batch.put(Int(IFLA_BOND_MIIMON), u32: UInt32(value))
        case .useCarrier(let value): batch.put(Int(IFLA_BOND_USE_CARRIER), u8: value ? 1 : 0)
        case .primaryIndex(let index): batch.put(Int(IFLA_BOND_PRIMARY), u32: UInt32(bitPattern: index))
        case .numPeerNotif(let value): batch.put(Int(IFLA_BOND_NUM_PEER_NOTIF), u8: UInt8(clamping: value))
        }
        batch.endNested(data)
        batch.endNested(info)
        batch.endMessage()
    }

    /// IFLA_IFALIAS: rtnl_create_link ignores it, so it is always a request of its own.
    static func setAlias(_ batch: inout NetlinkBatch, name: String, alias: String) {
        beginChange(&batch, name: name)
        batch.put(Int(IFLA_IFALIAS), string: alias)
        batch.endMessage()
    }

    static func setMTU(_ batch: inout NetlinkBatch, name: String, mtu: Int) {
        beginChange(&batch, name: name)
        batch.put(Int(IFLA_MTU), u32: UInt32(mtu))
        batch.endMessage()
    }

    static func setUp(_ batch: inout NetlinkBatch, name: String, up: Bool) {
        let upFlag = UInt32(IFF_UP.rawValue)
        batch.beginMessage(type: Int(RTM_NEWLINK), flags: 0)
        batch.appendFixed(header(flags: up ? upFlag : 0, change: upFlag))
        batch.put(Int(IFLA_IFNAME), string: name)
        batch.endMessage()
    }

    /// Enslaves `name` to the bond with ifindex `masterIndex`, or releases it (0).
    static func setMaster(_ batch: inout NetlinkBatch, name: String, masterIndex: Int32) {
        beginChange(&batch, name: name)
        batch.put(Int(IFLA_MASTER), u32: UInt32(bitPattern: masterIndex))
        batch.endMessage()
    }

    static func delete(_ batch: inout NetlinkBatch, name: String) {
        batch.beginMessage(type: Int(RTM_DELLINK), flags: 0)
        batch.appendFixed(header())
        batch.put(Int(IFLA_IFNAME), string: name)
        batch.endMessage()
    }

    /// One link by name; the reply is an RTM_NEWLINK (or ENODEV).
    static func get(_ batch: inout NetlinkBatch, name: String) {
        batch.beginMessage(type: Int(RTM_GETLINK), flags: 0)
        batch.appendFixed(header())
        batch.put(Int(IFLA_IFNAME), string: name)
        batch.put(Int(IFLA_EXT_MASK), u32: UInt32(RTEXT_FILTER_SKIP_STATS))
        batch.endMessage()
    }

    private static func beginChange(_ batch: inout NetlinkBatch, name: String) {
        batch.beginMessage(type: Int(RTM_NEWLINK), flags: 0)
        batch.appendFixed(header())
        batch.put(Int(IFLA_IFNAME), string: name)
    }
}
