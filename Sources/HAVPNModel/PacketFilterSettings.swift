/// The packet filter and NAT havpn owns in a pod (topology keys `filter:` and `nat:`).
///
/// Secure by default: with no key set every role gets vpn2's rules. A key turns one piece off; the
/// plan then says so, so an unprotected pod is never silent.
extension Topology {
    public struct PacketFilter: Hashable, Sendable {
        /// kube-apiserver and server pods: drop (and count) what the shoot side opens towards the
        /// pod's own sockets through the VPN devices.
        public var input: Bool = true
        /// vpn-shoot pods: accept forwarding from the tunnel devices.
        public var forward: Bool = true
        /// Which kernel interface carries the rules.
        public var backend: FirewallBackend = .auto
        public init() {}
    }

    public struct NAT: Hashable, Sendable {
        /// vpn-shoot pods: masquerade what leaves through `uplink`, so shoot workloads can answer
        /// the seed (the shoot network has no route back to seed pod IPs).
        public var masquerade: Bool = true
        /// vpn-shoot pods: clamp the TCP MSS of forwarded SYNs to the path MTU (the tunnels' MTU is
        /// smaller than the pod network's).
        public var mssClamp: Bool = true
        /// The vpn-shoot pod's interface towards the shoot network.
        public var uplink: String = "eth0"
        public init() {}
    }
}

/// The kernel interface for havpn's packet filter.
public enum FirewallBackend: String, Hashable, Sendable, CaseIterable {
    /// nftables when the kernel has it for inet with NAT, else iptables-legacy.
    case auto
    /// One table, `inet havpn`, replaced atomically through libnftables.
    case nftables
    /// Own `HAVPN-` chains loaded with `iptables-legacy-restore --noflush`, jumped to from the
    /// built-in chains (kernels without nf_tables for IP, such as the lab's user-mode-linux).
    case iptables
}
