internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner
import Synchronization

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
    /// havpn's packet-filter chains differ from the last applied ruleset (found by the 250 ms
    /// fingerprint poll: rulesets raise no rtnetlink event).
    case ruleset
}

/// Subscribes to rtnetlink multicast groups (links, IPv4/IPv6 addresses and routes) in the pod's
/// namespace, like systemd-networkd does, so drift is repaired within milliseconds rather than at
/// the next timer. The events only say *that* something changed; the reconcile pass re-reads the
/// kernel, so a lost or coalesced event costs nothing but latency.
///
/// The socket is libnl's (`nl_socket_add_membership` for the groups, `nl_recv`), and messages
/// are read with the same libnl parsing as dumps.
public final class NetlinkEventMonitor: Sendable {
    private let socket: LibnlSocket
    private let tapPrefix: String
    private let closed = Atomic<Bool>(false)

    private static let groups: [Int32] = [
        Int32(RTNLGRP_LINK.rawValue), Int32(RTNLGRP_IPV4_IFADDR.rawValue), Int32(RTNLGRP_IPV4_ROUTE.rawValue),
        Int32(RTNLGRP_IPV6_IFADDR.rawValue), Int32(RTNLGRP_IPV6_ROUTE.rawValue),
    ]

    /// Subscribes in the namespace `netns` (a name under /run/netns or a path), or in the calling
    /// thread's namespace when nil. `receiveBuffer` bounds how many events may queue before the
    /// kernel drops them and the monitor reports `.overflow`.
    public convenience init(netns: String?, tapPrefix: String, receiveBuffer: Int32 = 4 << 20) throws(HAVPNError) {
        let socket = try NetworkNamespace.run(in: netns) { () throws(HAVPNError) in
            try LibnlSocket(
                receiveBuffer: receiveBuffer,
                sendBuffer: 32 * 1024,
                groups: Self.groups,
                what: "rtnetlink monitor"
            )
        }
        self.init(socket: socket, tapPrefix: tapPrefix)
    }

    /// Subscribes in the namespace behind an open fd, e.g. a test's fresh, unnamed namespace.
    package convenience init(netnsFD: Int32, tapPrefix: String, receiveBuffer: Int32 = 4 << 20) throws(HAVPNError) {
        let namespace = try NetworkNamespace(duplicating: netnsFD, name: "fd")
        let socket = try namespace.withEntered { () throws(HAVPNError) in
            try LibnlSocket(
                receiveBuffer: receiveBuffer,
                sendBuffer: 32 * 1024,
                groups: Self.groups,
                what: "rtnetlink monitor"
            )
        }
        self.init(socket: socket, tapPrefix: tapPrefix)
    }

    private init(socket: LibnlSocket, tapPrefix: String) {
        self.socket = socket
        self.tapPrefix = tapPrefix
        // Wake up every second to notice `close()`.
        socket.setReceiveTimeout(seconds: 1)
    }

    /// Calls `handler` from a dedicated thread (never the cooperative pool: `nl_recv` blocks)
    /// for every event, until `close()`. The thread keeps the socket alive until it stops, so
    /// its descriptor is never closed under a pending receive.
    public func start(_ handler: @escaping @Sendable (KernelEvent) -> Void) {
        let socket = socket
        let tapPrefix = tapPrefix
        startThread { [self] in
            while !closed.load(ordering: .acquiring) {
                switch socket.receive() {
                case .datagram(let buffer, let count):
                    var events: [KernelEvent] = []
                    NetlinkParse.forEachMessage(in: buffer, count: count) {
                        events += Self.classify($0, tapPrefix: tapPrefix)
                    }
                    free(buffer)
                    if closed.load(ordering: .acquiring) { return }
                    for event in events { handler(event) }
                case .overflow:
                    handler(.overflow)
                case .timeout:
                    continue
                case .failure(let code):
                    // EBADF and the like cannot heal; anything else is retried after a pause
                    // the receive timeout would have cost anyway.
                    if code == EBADF || code == ENOTSOCK { return }
                    usleep(100_000)
                }
            }
        }
    }

    /// Stops the receive thread (within its one-second receive timeout).
    public func close() { closed.store(true, ordering: .releasing) }

    /// Classifies each message of one datagram. Pure, so it is tested without a kernel.
    package static func parse(_ bytes: ArraySlice<UInt8>, tapPrefix: String? = nil) -> [KernelEvent] {
        var events: [KernelEvent] = []
        NetlinkParse.forEachMessage(in: bytes) { events += classify($0, tapPrefix: tapPrefix) }
        return events
    }

    static func classify(_ message: NetlinkMessage, tapPrefix: String?) -> [KernelEvent] {
        switch message.type {
        case Int(RTM_NEWLINK), Int(RTM_DELLINK):
            guard let tapPrefix, let name = linkName(message), name.hasPrefix(tapPrefix) else { return [.link] }
            let number = name.dropFirst(tapPrefix.count)
            return !number.isEmpty && number.allSatisfy(\.isNumber) ? [.link, .serverTap] : [.link]
        case Int(RTM_NEWADDR), Int(RTM_DELADDR):
            return [.address]
        case Int(RTM_NEWROUTE), Int(RTM_DELROUTE):
            guard let route = message.familyHeader(rtmsg.self), route.rtm_protocol == havpnRouteProtocol else {
                return []
            }
            return [.ownedRoute]
        default:
            return []
        }
    }

    private static func linkName(_ message: NetlinkMessage) -> String? {
        message.attributes(after: ifinfomsg.self, maxType: HAVPN_IFLA_MAX, policy: havpn_link_policy())?
            .string(Int(IFLA_IFNAME))
    }
}

/// Runs `body` on a new detached thread.
func startThread(_ body: @escaping @Sendable () -> Void) {
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    let context = Unmanaged.passRetained(Body(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        },
        context
    )
    precondition(result == 0, "pthread_create failed: \(result)")
    pthread_detach(thread)
}
