import Glibc
import HAVPNModel
internal import HAVPNNetlink
import HAVPNPlanner

/// havpn's packet filter and NAT in one network namespace: observes and replaces the chains havpn
/// owns, through nftables or iptables-legacy (one desired model, two renderings).
///
/// Blocking and confined to one thread at a time, like `NetlinkClient`: every call moves the
/// calling thread into the namespace for its duration. The backend is chosen on first use.
public final class FirewallClient {
    private let namespace: NetworkNamespace?
    public let requestedBackend: FirewallBackend
    private var nftables: NftablesBackend?
    private var iptables: IptablesBackend?

    /// `netns`: a name under /run/netns or an absolute path (e.g. /proc/self/fd/N); nil for the
    /// calling thread's namespace.
    public init(netns: String? = nil, backend: FirewallBackend = .auto) throws(HAVPNError) {
        namespace = try netns.map { name throws(HAVPNError) in try NetworkNamespace(named: name) }
        requestedBackend = backend
        // A restore child that exits before reading all of its input must not kill havpn.
        signal(SIGPIPE, SIG_IGN)
    }

    /// iptables only: how many iptables-legacy children this client has started.
    package var iptablesChildProcesses: Int { iptables?.childProcesses ?? 0 }

    /// The backend in use (resolving `auto` on first call): `.nftables` or `.iptables`.
    public func resolvedBackend() throws(HAVPNError) -> FirewallBackend {
        try enter { () throws(HAVPNError) in try resolve() }
    }

    /// havpn's chains as the kernel holds them. `desired` lets the iptables backend compare each
    /// family with the rules that apply to it (ICMPv6 rules exist in ip6tables only).
    public func observe(expecting desired: Ruleset?) throws(HAVPNError) -> ObservedRuleset {
        try enter { () throws(HAVPNError) in
            switch try resolve() {
            case .iptables: return try iptables!.observe(expecting: desired)
            default: return try nftables!.observe(expecting: desired)
            }
        }
    }

    /// Replaces havpn's chains with `ruleset` (an empty one removes them): one nftables
    /// transaction, or one iptables-legacy-restore per family that differs.
    public func apply(_ ruleset: Ruleset) throws(HAVPNError) {
        try enter { () throws(HAVPNError) in
            switch try resolve() {
            case .iptables: try iptables!.apply(ruleset)
            default: try nftables!.apply(ruleset)
            }
        }
    }

    /// A cheap value that changes when havpn's chains may have changed; compared between two
    /// calls by the run loop, every 250 ms. nftables: the observed rule ids (one netlink list).
    /// iptables: entry counts and sizes of the tables (getsockopt, no process spawned).
    public func changeFingerprint(expecting desired: Ruleset?) throws(HAVPNError) -> String {
        try enter { () throws(HAVPNError) in
            switch try resolve() {
            case .iptables: iptables!.changeFingerprint()
            default: String(describing: try nftables!.observe().chains.sorted { $0.key < $1.key })
            }
        }
    }

    /// Runs `body` with the calling thread inside the client's namespace: libnftables' netlink
    /// socket and the iptables-legacy-restore children belong to the namespace of the thread that
    /// opens or spawns them.
    private func enter<T>(_ body: () throws(HAVPNError) -> T) throws(HAVPNError) -> T {
        try inNamespace(namespace, body)
    }

    /// Must run inside the namespace: the nftables socket belongs to the namespace it was opened in.
    private func resolve() throws(HAVPNError) -> FirewallBackend {
        if nftables != nil { return .nftables }
        if iptables != nil { return .iptables }
        switch requestedBackend {
        case .nftables:
            let backend = try NftablesBackend()
            try backend.probe()
            nftables = backend
            return .nftables
        case .iptables:
            let backend = IptablesBackend()
            try backend.probe()
            iptables = backend
            return .iptables
        case .auto:
            var nftablesError: HAVPNError
            do {
                try NftablesBackend.precheck()
                let backend = try NftablesBackend()
                try backend.probe()
                nftables = backend
                return .nftables
            } catch {
                nftablesError = error
            }
            do {
                let backend = IptablesBackend()
                try backend.probe()
                iptables = backend
                return .iptables
            } catch {
                throw HAVPNError(
                    .missingKernelFeature,
                    "no packet filter for havpn's rules: nftables (inet table with NAT) failed: \(nftablesError.message); "
                        + "iptables-legacy failed: \(error.message)",
                    object: "filter.backend auto"
                )
            }
        }
    }
}
