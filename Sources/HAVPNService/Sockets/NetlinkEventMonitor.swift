import Glibc
import HAVPNModel
import HAVPNPlanner

/// What changed in the kernel, as far as drift detection cares.
public enum KernelEvent: Sendable, Hashable {
    case link
    /// A link named like a server tap (`<tapPrefix><n>`) changed, e.g. lost or regained carrier
    /// because its openvpn client lost or found its server: bonds are failing over.
    case serverTap
    case address
    /// A route carrying havpn's protocol was added, changed or removed.
    case ownedRoute
    /// The socket buffer overflowed (ENOBUFS): events were lost, so resync everything.
    case overflow
    /// havpn's packet-filter chains differ from the last applied ruleset (found by the 1 s
    /// fingerprint poll: rulesets raise no rtnetlink event).
    case ruleset
}

/// Subscribes to rtnetlink multicast groups (links, IPv4/IPv6 addresses and routes) in the pod's
/// namespace, like systemd-networkd does, so drift is repaired within milliseconds rather than at
/// the next timer. The events only say *that* something changed; the reconcile pass re-reads the
/// kernel, so a lost or coalesced event costs nothing but latency.
final class NetlinkEventMonitor: @unchecked Sendable {
    // @unchecked: immutable after init; one receive thread reads the socket.
    private let socket: PosixSocket

    // <linux/rtnetlink.h> group bits and message types.
    private static let groups: UInt32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400  // LINK, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE

    private let tapPrefix: String

    init(netns: String?, tapPrefix: String) throws(HAVPNError) {
        self.tapPrefix = tapPrefix
        socket = try PosixSocket(domain: AF_NETLINK, type: Int32(SOCK_RAW.rawValue), protocol: 0 /* NETLINK_ROUTE */, netns: netns, what: "rtnetlink monitor")
        socket.setOption(SOL_SOCKET, SO_RCVBUF, 4 << 20)
        // struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups; } (host byte order)
        var sa = [UInt8](repeating: 0, count: 12)
        withUnsafeBytes(of: UInt16(AF_NETLINK)) { for i in 0..<2 { sa[i] = $0[i] } }
        withUnsafeBytes(of: Self.groups) { for i in 0..<4 { sa[8 + i] = $0[i] } }
        let rc = sa.withUnsafeBytes { bind(socket.fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), 12) }
        guard rc == 0 else { throw PosixSocket.error("cannot subscribe to rtnetlink groups", object: "rtnetlink monitor") }
    }

    func start(_ handler: @escaping @Sendable (KernelEvent) -> Void) {
        let s = socket
        startReceiveThread(name: "havpn-rtnetlink", socket: s) {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            let n = recv(s.fd, &buffer, buffer.count, 0)
            if n < 0 {
                if errno == ENOBUFS { handler(.overflow) }
                return
            }
            for event in Self.parse(buffer[0..<n], tapPrefix: self.tapPrefix) { handler(event) }
        }
    }

    /// Classifies each message of one datagram. Pure, so it is tested without a kernel.
    static func parse(_ bytes: ArraySlice<UInt8>, tapPrefix: String? = nil) -> [KernelEvent] {
        var events: [KernelEvent] = []
        var offset = bytes.startIndex
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        while offset + 16 <= bytes.endIndex {
            let length = Int(u32(offset))
            guard length >= 16, offset + length <= bytes.endIndex else { break }
            switch u16(offset + 4) {
            case 16, 17:  // RTM_NEWLINK, RTM_DELLINK
                events.append(.link)
                if let tapPrefix, let name = linkName(offset: offset, length: length),
                    name.hasPrefix(tapPrefix), !name.dropFirst(tapPrefix.count).isEmpty,
                    name.dropFirst(tapPrefix.count).allSatisfy(\.isNumber)
                {
                    events.append(.serverTap)
                }
            case 20, 21: events.append(.address)  // RTM_NEWADDR, RTM_DELADDR
            case 24, 25:  // RTM_NEWROUTE, RTM_DELROUTE: rtmsg.rtm_protocol is byte 5 of the body
                if length >= 16 + 8, bytes[offset + 16 + 5] == havpnRouteProtocol { events.append(.ownedRoute) }
            default: break
            }
            offset += (length + 3) & ~3
        }
        return events

        /// IFLA_IFNAME (3) among the attributes after the 16-byte ifinfomsg.
        func linkName(offset: Int, length: Int) -> String? {
            var at = offset + 16 + 16
            while at + 4 <= offset + length {
                let attrLength = Int(u16(at))
                guard attrLength >= 4, at + attrLength <= offset + length else { return nil }
                if u16(at + 2) == 3 {
                    let name = bytes[(at + 4)..<(at + attrLength)].prefix { $0 != 0 }
                    return String(decoding: name, as: UTF8.self)
                }
                at += (attrLength + 3) & ~3
            }
            return nil
        }
    }

    func close() { socket.close() }
}
