import Foundation
import HAVPNModel
import HAVPNNetlink
import Testing

/// Whole-file reads: one buffer of the file's size, doubled for a file that reports none or grows.
@Suite struct FileContentsTests {
    private func withFile(_ bytes: [UInt8], _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("havpn-fc-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test(arguments: [0, 1, 4095, 4096, 4097, 136 * 1024, 300_001])
    func returnsEveryByteOfAFile(size: Int) throws {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        try withFile(bytes) { path in
            let read = try FileContents.read(path, what: "test file")
            #expect(read == bytes)
        }
    }

    /// /proc files report size 0: the buffer doubles from 4 KiB until the read ends. A test process maps
    /// dozens of files, so its maps are well above 4 KiB and every line is whole.
    @Test func readsAFileWithoutASize() throws {
        let maps = try FileContents.read("/proc/self/maps", what: "maps")
        try #require(maps.count > 8192)
        #expect(maps.last == UInt8(ascii: "\n"))
        let lines = String(decoding: maps, as: UTF8.self).split(separator: "\n")
        #expect(lines.allSatisfy { $0.split(separator: " ", omittingEmptySubsequences: true).count >= 5 })
    }

    @Test func refusesAFileAboveTheLimitAndTakesOneAtIt() throws {
        try withFile([UInt8](repeating: 7, count: 5000)) { path in
            let atTheLimit = try FileContents.read(path, what: "test file", limit: 5000)
            #expect(atTheLimit.count == 5000)
            let error = #expect(throws: HAVPNError.self) { try FileContents.read(path, what: "test file", limit: 4999) }
            #expect(error?.description.contains("the test file is larger than 4999 bytes") == true)
        }
    }

    /// A file without a size is held to the limit too.
    @Test func theLimitHoldsForAFileWithoutASize() throws {
        let error = #expect(throws: HAVPNError.self) {
            try FileContents.read("/proc/self/maps", what: "maps", limit: 10)
        }
        #expect(error?.description.contains("larger than 10 bytes") == true)
    }

    @Test func aMissingFileIsOneLine() {
        let error = #expect(throws: HAVPNError.self) {
            try FileContents.read("/nonexistent/havpn", what: "topology file")
        }
        #expect(error?.description.contains("cannot read the topology file") == true)
        #expect(error?.description.contains("\n") == false)
    }
}
