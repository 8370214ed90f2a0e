internal import CNetlink
import Glibc
import HAVPNModel
import HAVPNPlanner

/// havpn's view of one network namespace's kernel state: reads it (`observe`) and changes it
/// (`apply`), over one NETLINK_ROUTE socket bound to that namespace.
///
/// Every call blocks; run it off the cooperative pool (a dedicated thread). The class is
/// deliberately not `Sendable`: it keeps mutable caches and a receive buffer, and it moves the
/// *calling thread* into the target namespace for a moment (to open /dev/net/tun and
/// /proc/sys files there). Confine each client to one thread at a time; create one per namespace.
public final class NetlinkClient {
    private let namespace: NetworkNamespace?
    private let socket: NetlinkSocket

    /// A client for the namespace `netns` (a name under /run/netns, or an absolute path such as
    /// /proc/PID/ns/net), or for the calling thread's namespace when nil.
    public init(netns: String? = nil) throws(HAVPNError) {
        let namespace = try netns.map { name throws(HAVPNError) in try NetworkNamespace(named: name) }
        self.namespace = namespace
        socket = try inNamespace(namespace) { () throws(HAVPNError) in try NetlinkSocket() }
    }

    /// A client for the namespace behind an open fd (the client keeps a duplicate), e.g. a
    /// test's fresh, unnamed namespace.
    package init(netnsFD: Int32, name: String = "fd") throws(HAVPNError) {
        let namespace = try NetworkNamespace(duplicating: netnsFD, name: name)
        self.namespace = namespace
        socket = try namespace.withEntered { () throws(HAVPNError) in try NetlinkSocket() }
    }

    /// The namespace's live state: every link, the addresses on `declaredLinks`, the main
    /// table's unicast routes (IPv4 and IPv6), and the `sysctlKeys` that exist.
    /// One dump per object type.
    public func observe(declaredLinks: Set<String>, sysctlKeys: [String]) throws(HAVPNError) -> ObservedState {
        let records = try LinkIndex.dumpLinks(socket)
        var names: [Int32: String] = [:]
        for record in records { names[record.index] = record.name }
        let links = records.map { LinkDecoder.observed($0, names: names) }

        let declared = names.filter { declaredLinks.contains($0.value) }
        var addressHeader = ifaddrmsg()
        addressHeader.ifa_family = UInt8(AF_UNSPEC)
        let addresses =
            declared.isEmpty
            ? []
            : try dumpConsistently(socket, Int(RTM_GETADDR), header: addressHeader) {
                AddressDecoder.decode($0, devices: declared)
            }

        var routeHeader = rtmsg()
        routeHeader.rtm_family = UInt8(AF_UNSPEC)
        let routes = try dumpConsistently(socket, Int(RTM_GETROUTE), header: routeHeader) {
            RouteDecoder.decode($0, names: names)
        }

        let sysctls = try Sysctl.read(sysctlKeys, in: namespace)
        return ObservedState(links: links, addresses: addresses, routes: routes, sysctls: sysctls)
    }

    /// Executes `actions` in order and reports what was done. Stops at the first failure and
    /// throws it (object, errno and the kernel's text included); use
    /// `apply(_:report:)` to keep the partial report in that case.
    public func apply(_ actions: [PlanAction]) throws(HAVPNError) -> ApplyReport {
        var report = ApplyReport()
        try apply(actions, report: &report)
        return report
    }

    /// Like `apply(_:)`, but fills `report` as it goes, so it is complete even when this throws.
    public func apply(_ actions: [PlanAction], report: inout ApplyReport) throws(HAVPNError) {
        let clock = ContinuousClock()
        let start = clock.now
        defer { report.duration += clock.now - start }
        let executor = ActionExecutor(socket: socket, namespace: namespace, links: LinkIndex())
        try executor.run(actions, report: &report)
    }
}
