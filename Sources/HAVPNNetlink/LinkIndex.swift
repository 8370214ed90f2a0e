internal import CNetlink
import Glibc
import HAVPNModel

/// Link name → ifindex, filled by one link dump on first use and then by single RTM_GETLINK
/// requests for links created since. Routes, addresses, masters and bond primaries need
/// ifindexes; everything else addresses links by name.
final class LinkIndex {
    private var byName: [String: Int32] = [:]
    private var loaded = false

    /// The index if already known, without asking the kernel.
    func cachedIndex(of name: String) -> Int32? { byName[name] }

    /// Drops `name` (it is being created or deleted, so any old index is stale).
    func forget(_ name: String) { byName[name] = nil }

    func load(_ links: [LinkRecord]) {
        byName = Dictionary(links.map { ($0.name, $0.index) }, uniquingKeysWith: { _, last in last })
        loaded = true
    }

    /// The index of `name`, asking the kernel when unknown; nil when no such link exists.
    func index(of name: String, socket: NetlinkSocket) throws(HAVPNError) -> Int32? {
        if let known = byName[name] { return known }
        if !loaded {
            load(try LinkIndex.dumpLinks(socket))
            if let known = byName[name] { return known }
            return nil
        }
        var request = socket.makeBatch()
        LinkRequests.get(&request, name: name)
        var found: LinkRecord?
        let acks = try socket.execute(request) { _, reply in
            if let link = LinkDecoder.decode(reply) { found = link }
        }
        if let ack = acks.first, ack.errno != 0 {
            if ack.errno == ENODEV { return nil }
            throw KernelErrors.error(
                ack.errno,
                "cannot look up link",
                object: "link \(name)",
                kernelMessage: ack.kernelMessage
            )
        }
        guard let found else { return nil }
        byName[name] = found.index
        return found.index
    }

    /// Every link, from one dump (repeated if a concurrent change interrupted it).
    static func dumpLinks(_ socket: NetlinkSocket) throws(HAVPNError) -> [LinkRecord] {
        var header = ifinfomsg()
        header.ifi_family = UInt8(AF_UNSPEC)
        return try dumpConsistently(socket, Int(RTM_GETLINK), header: header) { LinkDecoder.decode($0) }
    }
}

/// Runs a dump until the kernel reports it consistent (at most 5 tries), mapping every message.
func dumpConsistently<Header: BitwiseCopyable, Item>(
    _ socket: NetlinkSocket,
    _ type: Int,
    header: Header,
    _ transform: (NetlinkMessage) -> Item?
) throws(HAVPNError) -> [Item] {
    var items: [Item] = []
    for _ in 0..<5 {
        items.removeAll(keepingCapacity: true)
        let consistent = try socket.dump(type, header: header) { message in
            if let item = transform(message) { items.append(item) }
        }
        if consistent { return items }
    }
    return items
}
