import Foundation
import HAVPNFirewall
import HAVPNModel
import HAVPNPlanner
import HAVPNTestSupport
import Testing

extension TestNamespace {
    /// The namespace's nftables generation: the kernel bumps it once per committed transaction.
    /// Read with NFT_MSG_GETGEN (python3 on a raw netfilter socket, independent of havpn and of
    /// `nft`, which has no command that prints it).
    func nftablesGeneration() throws -> UInt32 {
        let script = """
            import socket, struct
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
            s.settimeout(5)
            s.send(struct.pack("=LHHLL", 20, (10 << 8) | 16, 1, 1, 0) + struct.pack("=BBH", 0, 0, 0))
            d = s.recv(65536)
            off = 16 + 4
            while off + 4 <= len(d):
                length, kind = struct.unpack_from("=HH", d, off)
                if kind & 0x7fff == 1:
                    print(struct.unpack_from(">L", d, off + 4)[0]); break
                off += (length + 3) & ~3
            """
        let output = try exec("python3", "-c", script).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let generation = UInt32(output) else { throw CommandFailed(description: "no generation id: \(output)") }
        return generation
    }
}

@Suite(.enabled(if: HostNftables.isAvailable, "\(HostNftables.unavailableReason ?? "")"))
struct TransactionCountTests {
    /// The issue's "one kernel transaction per apply": choosing the backend (`auto`, probed as a
    /// dry run) commits nothing, replacing the table is one commit.
    @Test(arguments: [Role.apiserver, .shoot, .server])
    func anApplyIsOneKernelTransaction(role: Role) throws {
        let ns = try TestNamespace()
        let before = try ns.nftablesGeneration()
        let firewall = try ns.firewall(.auto)
        #expect(try firewall.resolvedBackend() == .nftables)
        let desired = Roles.ruleset(role)
        try firewall.apply(desired)
        #expect(try ns.nftablesGeneration() == before &+ 1)
        #expect(try Planner.planRuleset(desired, firewall).isEmpty)
    }

    @Test func probingAndObservingCommitNothing() throws {
        let ns = try TestNamespace()
        try ns.firewall(.auto).apply(Roles.ruleset(.server))
        let before = try ns.nftablesGeneration()
        let again = try ns.firewall(.auto)
        _ = try again.resolvedBackend()
        _ = try again.observe(expecting: Roles.ruleset(.server))
        #expect(try ns.nftablesGeneration() == before)
        // The reading itself sees commits: one by hand moves it by one.
        try ns.nft("add table ip operator")
        #expect(try ns.nftablesGeneration() == before &+ 1)
    }
}
