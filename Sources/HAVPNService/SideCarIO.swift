import Glibc
import HAVPNControl
import HAVPNModel
import HAVPNNetlink
import HAVPNPlanner
import HAVPNReconcile
import Logging
import Synchronization

/// The rtnetlink monitor and its events moved into HAVPNNetlink (they parse with libnl there);
/// the side-car keeps naming the event as before.
public typealias KernelEvent = HAVPNNetlink.KernelEvent

/// The side-car's sockets, all opened inside the pod's network namespace: the rtnetlink
/// monitor (its own thread), the ICMPv6 prober (apiserver) and the announcement socket (sender on
/// the apiserver side, listener on the shoot side), both held by swift-nio, and one beacon socket
/// per tap (AF_PACKET, read by the ``SocketReader``).
///
/// Opening a socket in the namespace enters it on the calling thread, so this is created on the
/// kernel worker's thread (``KernelWorker/onKernelThread(_:)``), never on the cooperative pool.
final class SideCarIO: Sendable {
    private struct State {
        var topology: Topology
        var beacons: [Int: PacketSocket] = [:]
        var bondIndex: Int32 = 0
        var closed = false
    }

    let netns: String?
    let identity: Identity
    let prober: ICMPv6Prober?
    private let monitor: NetlinkEventMonitor
    private let udp: UDP6Socket?
    private let inbox: SideCarInbox
    private let worker: KernelWorker
    private let now: @Sendable () -> Instant
    private let logger: Logger
    private let state: Mutex<State>

    init(
        options: SideCarOptions,
        identity: Identity,
        topology: Topology,
        inbox: SideCarInbox,
        worker: KernelWorker,
        now: @escaping @Sendable () -> Instant,
        logger: Logger
    ) throws(HAVPNError) {
        netns = options.netns
        self.identity = identity
        self.inbox = inbox
        self.worker = worker
        self.now = now
        self.logger = logger
        state = Mutex(State(topology: topology))
        monitor = try NetlinkEventMonitor(netns: netns, tapPrefix: topology.devices.tapPrefix)
        monitor.start { inbox.post($0) }
        let plan = AddressPlan(topology: topology)
        switch identity.role {
        case .apiserver:
            prober = try ICMPv6Prober(netns: netns) { address, sequence in
                inbox.post(.probeReply(address, sequence, at: now()))
            }
            udp = try UDP6Socket(netns: netns, bindTo: plan.bondAddress(of: identity), port: 0, freebind: true)
        case .shoot where topology.mode == .single:
            // No announcements in single mode: kube-apiserver uses the server's CONNECT proxy.
            prober = nil
            udp = nil
        case .shoot:
            prober = nil
            udp = try UDP6Socket(netns: netns, bindTo: nil, port: UInt16(topology.announcements.port)) {
                inbox.post(.datagram($0, at: now()))
            }
        case .server:
            prober = nil
            udp = nil
        }
    }

    func update(topology: Topology) {
        state.withLock { $0.topology = topology }
    }

    /// The device an announcement arrived on, by name when it is the bond.
    func deviceName(ofInterface index: Int32) -> String {
        state.withLock { s in
            if s.bondIndex == 0 { s.bondIndex = Self.interfaceIndex(s.topology.devices.bond, netns: netns) }
            return index != 0 && index == s.bondIndex ? s.topology.devices.bond : "if\(index)"
        }
    }

    func announce(_ payload: [UInt8], to address: IPv6Address) {
        let port = state.withLock { UInt16($0.topology.announcements.port) }
        udp?.send(payload, to: address, port: port)
    }

    func beacon(server: Int, _ bytes: [UInt8], to mac: [UInt8]?) {
        let socket = state.withLock { $0.beacons[server] }
        socket?.send(bytes, to: mac)
    }

    /// Taps are created (or recreated, with a new ifindex) by reconciles; reopen their beacon
    /// sockets then (on the kernel worker's thread: opening enters the namespace), and forget the
    /// bond's ifindex so it is looked up again.
    func afterReconcile(_ outcome: ReconcileOutcome) {
        let recreated = Set(
            outcome.applied.compactMap { action -> String? in
                switch action {
                case .createLink(let spec): spec.name
                case .deleteLink(let name, _): name
                default: nil
                }
            }
        )
        state.withLock { s in
            if recreated.contains(s.topology.devices.bond) { s.bondIndex = 0 }
        }
        worker.perform { self.reopenBeacons(recreated: recreated) }
    }

    private func reopenBeacons(recreated: Set<String>) {
        state.withLock { s in
            // Single mode has no taps: no server paths to beacon on.
            guard s.topology.mode == .ha, !s.closed else { return }
            let plan = AddressPlan(topology: s.topology)
            for server in 0..<s.topology.servers {
                let tap = plan.tapName(server: server)
                if s.beacons[server] != nil && !recreated.contains(tap) { continue }
                s.beacons[server]?.close()
                s.beacons[server] = nil
                do {
                    let socket = try PacketSocket(netns: netns, interface: tap, etherType: PathBeacon.etherType)
                    let inbox = self.inbox
                    let now = self.now
                    socket.startReceiving { inbox.post(.beacon($0, server: server, from: $1, at: now())) }
                    s.beacons[server] = socket
                } catch {
                    logger.warning(
                        "cannot open the beacon socket",
                        metadata: ["device": "\(tap)", "error": "\(error)"]
                    )
                }
            }
            for server in s.beacons.keys where server >= s.topology.servers {
                s.beacons[server]?.close()
                s.beacons[server] = nil
            }
        }
    }

    func close() {
        monitor.close()
        prober?.close()
        udp?.close()
        state.withLock { s in
            s.closed = true
            for socket in s.beacons.values { socket.close() }
            s.beacons = [:]
        }
    }

    /// A small text file (the openvpn status file), read whole; a missing file is an error value.
    static func readText(_ path: String) -> Result<String, HAVPNError> {
        do {
            let bytes = try FileContents.read(
                path,
                what: "openvpn status file",
                keyPath: "openvpn.statusFile",
                limit: 4 << 20
            )
            return .success(String(decoding: bytes, as: UTF8.self))
        } catch {
            return .failure(error)
        }
    }

    private static func interfaceIndex(_ name: String, netns: String?) -> Int32 {
        (try? NetworkNamespace.run(in: netns) { () throws(HAVPNError) -> Int32 in
            Int32(bitPattern: if_nametoindex(name))
        }) ?? 0
    }
}
