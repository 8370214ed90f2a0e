import HAVPNModel
import Testing

/// The duplicate check over every apiserver's pod IPs (an open-addressing table that keeps only where each
/// address is listed): thousands of distinct addresses pass, and a duplicate anywhere names its first listing.
@Suite struct PodIPDuplicateTests {
    private func topology(_ podIPs: [[String]]) -> String {
        let apiservers = podIPs.enumerated().map { i, ips in
            "  - {index: \(i + 1), podIPs: [\(ips.joined(separator: ", "))]}"
        }
        return "apiVersion: havpn/v1\nnetworks: {seedPods: [10.0.0.0/8, fd00::/64]}\napiservers:\n"
            + apiservers.joined(separator: "\n") + "\n"
    }

    /// 3 × 2,000 addresses, both families, including neighbours that differ in one bit.
    private let distinct: [[String]] = (0..<3).map { a in
        (0..<2000).map { k in k.isMultiple(of: 2) ? "10.\(a).\(k / 256).\(k % 256)" : "fd00::\(a):\(k)" }
    }

    @Test func thousandsOfDistinctAddressesPass() throws {
        let decoded = try TopologyDecoder.decode(yaml: topology(distinct), file: "t.yaml")
        #expect(decoded.apiservers.map(\.podIPs.count) == [2000, 2000, 2000])
    }

    @Test(arguments: [(0, 0), (1, 1999), (2, 1000), (0, 1)])
    func aDuplicateNamesItsFirstListing(first: Int, podIP: Int) throws {
        var lists = distinct
        lists[2].append(lists[first][podIP])
        do {
            _ = try TopologyDecoder.decode(yaml: topology(lists), file: "t.yaml")
            Issue.record("the duplicate of apiservers[\(first)].podIPs[\(podIP)] was accepted")
        } catch {
            #expect(error.code == .duplicate)
            #expect(error.message.hasSuffix("is already listed as apiservers[\(first)].podIPs[\(podIP)]"), "\(error)")
        }
    }
}
