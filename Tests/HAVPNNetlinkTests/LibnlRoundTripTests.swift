import HAVPNModel
import HAVPNPlanner
import Testing

@testable import HAVPNNetlink

/// Requests built by libnl (`nlmsg_put`, `nla_put*`, `nla_nest_*`) read back by the decoders
/// (`nlmsg_parse` with policies). A request to create a link is an RTM_NEWLINK, just like the
/// kernel's answer to a dump, so one side checks the other without a kernel.
@Suite struct LibnlRoundTripTests {
    private func decodeAll<T>(_ batch: NetlinkBatch, _ decode: (NetlinkMessage) -> T?) -> [T] {
        var items: [T] = []
        NetlinkParse.forEachMessage(in: batch.bytes[...]) { if let item = decode($0) { items.append(item) } }
        return items
    }

    @Test func bondRequestReadsBackAsTheSameBond() throws {
        var batch = NetlinkBatch(firstSequence: 7)
        let bond = BondSpec(
            mode: .activeBackup,
            miimon: 100,
            failOverMAC: .active,
            useCarrier: false,
            primary: "tap0",
            numPeerNotif: 3
        )
        LinkRequests.createBond(&batch, name: "bond0", bond: bond, primaryIndex: 42, mtu: 1400)
        let records = decodeAll(batch) { LinkDecoder.decode($0) }
        let record = try #require(records.first)
        #expect(records.count == 1)
        #expect(record.name == "bond0")
        #expect(record.mtu == 1400)
        #expect(record.kind == "bond")
        let observed = LinkDecoder.observed(record, names: [42: "tap0"])
        #expect(observed.spec.kind == .bond(bond))
        #expect(observed.spec.mtu == 1400)
    }

    @Test func tunnelRequestReadsBackAsTheSameTunnel() throws {
        var batch = NetlinkBatch(firstSequence: 1)
        let tunnel = TunnelSpec(
            local: try #require(IPv6Address("fd8f:6d53:b97a:1::1")),
            remote: try #require(IPv6Address("fd8f:6d53:b97a:1::2"))
        )
        LinkRequests.createTunnel(&batch, name: "ip6tnl1", tunnel: tunnel, mtu: nil)
        LinkRequests.setAlias(&batch, name: "ip6tnl1", alias: havpnLinkAlias)
        let records = decodeAll(batch) { LinkDecoder.decode($0) }
        #expect(records.count == 2)
        #expect(LinkDecoder.observed(records[0], names: [:]).spec.kind == .ip6tnl(tunnel))
        #expect(records[1].alias == havpnLinkAlias)
        #expect(LinkDecoder.observed(records[1], names: [:]).owned)
    }

    @Test func sequenceNumbersCountUpFromTheFirst() {
        var batch = NetlinkBatch(firstSequence: 0xffff_fffe)
        for name in ["a", "b", "c"] { LinkRequests.setUp(&batch, name: name, up: true) }
        var sequences: [UInt32] = []
        NetlinkParse.forEachMessage(in: batch.bytes[...]) { sequences.append($0.sequence) }
        #expect(sequences == [0xffff_fffe, 0xffff_ffff, 0])
        #expect(batch.count == 3)
        #expect(batch.messageRange(2).upperBound == batch.bytes.count)
        #expect(batch.bytes.count % 4 == 0)
    }

    @Test func addressRequestReadsBackAsAnOwnedAddress() throws {
        var batch = NetlinkBatch(firstSequence: 1)
        let spec = AddressSpec(
            device: "bond0",
            address: .v6(try #require(IPv6Address("fd8f:6d53:b97a:1::a"))),
            prefixLength: 96,
            nodad: true
        )
        AddressRequests.add(&batch, spec, index: 5)
        let addresses = decodeAll(batch) { AddressDecoder.decode($0, devices: [5: "bond0"]) }
        #expect(addresses == [ObservedAddress(spec: spec, owned: true)])
        #expect(decodeAll(batch) { AddressDecoder.decode($0, devices: [6: "other"]) }.isEmpty)
    }

    @Test func routeRequestsReadBackWithMetricAndProtocol() throws {
        var batch = NetlinkBatch(firstSequence: 1)
        let v4 = RouteSpec(destination: try #require(IPNetwork("100.64.0.0/13")), device: "bond0", metric: 7)
        let v6 = RouteSpec(destination: try #require(IPNetwork("fd00::/64")), device: "bond0", metric: 0)
        RouteRequests.add(&batch, v4, oif: 5, replace: false)
        RouteRequests.add(&batch, v6, oif: 5, replace: true)
        let routes = decodeAll(batch) { RouteDecoder.decode($0, names: [5: "bond0"]) }
        #expect(
            routes == [
                ObservedRoute(spec: v4, routeProtocol: havpnRouteProtocol),
                ObservedRoute(spec: v6, routeProtocol: havpnRouteProtocol),
            ]
        )
    }

    /// An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK: the
    /// request's header echoed, then NLMSGERR_ATTR_MSG.
    @Test func extendedAcknowledgementCarriesTheKernelText() throws {
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let text = Array("Device can not be enslaved while up".utf8) + [0]
        let attribute =
            le16(UInt16(4 + text.count)) + le16(1) + text + [UInt8](repeating: 0, count: (4 - text.count % 4) % 4)
        let echoed = le32(40) + le16(16) + le16(5) + le32(9) + le32(0)
        let body = le32(UInt32(bitPattern: -1)) + echoed + attribute
        let flags: UInt16 = 0x100 | 0x200  // NLM_F_CAPPED | NLM_F_ACK_TLVS
        let message = le32(UInt32(16 + body.count)) + le16(2) + le16(flags) + le32(9) + le32(0) + body
        var acks: [NetlinkAcknowledgement] = []
        NetlinkParse.forEachMessage(in: message[...]) { acks.append(NetlinkSocket.acknowledgement($0)) }
        let ack = try #require(acks.first)
        #expect(ack.errno == 1)
        #expect(ack.kernelMessage == "Device can not be enslaved while up")

        // Without NLM_F_ACK_TLVS there is no text, only the errno.
        let plain = le32(UInt32(16 + 20)) + le16(2) + le16(0x100) + le32(9) + le32(0) + le32(0) + echoed
        acks = []
        NetlinkParse.forEachMessage(in: plain[...]) { acks.append(NetlinkSocket.acknowledgement($0)) }
        #expect(acks.first?.errno == 0)
        #expect(acks.first?.kernelMessage == nil)
    }
}
