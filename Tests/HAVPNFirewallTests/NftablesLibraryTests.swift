import HAVPNModel
import Testing

@testable import HAVPNFirewall

/// libnftables is opened with dlopen on first use, not linked: each way that can fail gives the
/// loader's reason, and the real library has every call havpn makes.
struct NftablesLibraryTests {
    @Test func aMissingLibraryGivesTheLoadersReason() {
        let problem = NftablesBackend.libraryProblem(soname: "libnftables-havpn-missing.so.9")
        #expect(problem?.contains("libnftables-havpn-missing.so.9") == true, "\(problem ?? "nil")")
    }

    @Test func aLibraryWithoutTheCallsIsRefusedByName() {
        // libc opens, but it has none of libnftables' calls: the first one missing is named.
        #expect(NftablesBackend.libraryProblem(soname: "libc.so.6") == "libc.so.6 has no nft_ctx_new")
    }

    /// The test command installs Debian's libnftables-dev, which brings libnftables1.
    @Test func debiansLibnftablesHasEveryCall() throws {
        #expect(NftablesBackend.libraryProblem(soname: "libnftables.so.1") == nil)
        try NftablesBackend.loadLibrary()
    }
}
