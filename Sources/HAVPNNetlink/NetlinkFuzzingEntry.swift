internal import CNetlink

/// Every decoder that reads what the kernel (or software sharing the namespace) puts into a
/// netlink datagram, run over arbitrary bytes: the entry of the FuzzNetlink target (scripts/fuzz).
/// Decoding must be total: unknown, truncated or hostile attributes yield nil or are skipped.
package enum NetlinkDecoding {
    /// Decodes `bytes` as one datagram in every way havpn reads datagrams; returns how many
    /// objects were recognised (so the work cannot be optimised away).
    package static func decodeEverything(_ bytes: [UInt8]) -> Int {
        var recognised = NetlinkEventMonitor.parse(bytes[...], tapPrefix: "tap").count
        var names: [Int32: String] = [:]
        var records: [LinkRecord] = []
        NetlinkParse.forEachMessage(in: bytes[...]) { message in
            switch message.type {
            case Int(RTM_NEWLINK), Int(RTM_DELLINK):
                if let link = LinkDecoder.decode(message) {
                    names[link.index] = link.name
                    records.append(link)
                }
            case Int(RTM_NEWADDR), Int(RTM_DELADDR):
                if AddressDecoder.decode(message, devices: names) != nil { recognised += 1 }
            case Int(RTM_NEWROUTE), Int(RTM_DELROUTE):
                if RouteDecoder.decode(message, names: names) != nil { recognised += 1 }
            case Int(NLMSG_ERROR):
                if NetlinkSocket.acknowledgement(message).errno != 0 { recognised += 1 }
            default:
                break
            }
        }
        for record in records { _ = LinkDecoder.observed(record, names: names) }
        return recognised + records.count
    }
}
