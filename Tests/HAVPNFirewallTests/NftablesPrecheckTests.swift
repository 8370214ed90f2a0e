import HAVPNModel
import HAVPNNetlink
import HAVPNTestSupport
import Testing

@testable import HAVPNFirewall

/// The raw netfilter precheck that `auto` asks before loading libnftables, on the host kernel
/// (which has nf_tables for inet): it passes, and it commits nothing.
@Suite(.enabled(if: HostNftables.isAvailable, "\(HostNftables.unavailableReason ?? "")"))
struct NftablesPrecheckTests {
    @Test func passesAndLeavesNoTableBehind() throws {
        let ns = try TestNamespace()
        let rc = try inNamespace(NetworkNamespace(named: ns.name)) { NftablesBackend.havpnNftInetTableProbeResult() }
        #expect(rc == 0, "the kernel accepted the inet table (errno \(-rc))")
        try inNamespace(NetworkNamespace(named: ns.name)) { () throws(HAVPNError) in try NftablesBackend.precheck() }
        #expect(try ns.nft("list tables").isEmpty, "the batch had no end: nothing committed")
        #expect(try ns.firewall(.auto).resolvedBackend() == .nftables)
    }
}
