import COneShotHeap
import Foundation
import Testing

/// The one-shot heap of `plan` and `apply` (COneShotHeap): its malloc settings and its pre-faulting. Each test
/// runs in a child process of its own (an exit test), since the settings are process-wide.
@Suite struct OneShotHeapTests {
    /// Resident bytes of this process (/proc/self/statm: size and resident, in pages).
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let fields = statm.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return -1 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Whether glibc served `block` by a fresh mmap of its own: IS_MMAPPED, bit 1 of the chunk's size field
    /// just before it. (The exit test's body may run on a thread with its own arena, so the program break
    /// would not tell.)
    static func isMapped(_ block: UnsafeMutableRawPointer) -> Bool {
        block.load(fromByteOffset: -MemoryLayout<UInt>.size, as: UInt.self) & 2 != 0
    }

    /// Allocates and frees a 6 MiB block; whether it was a fresh mmap.
    static func sixMiBBlockIsMapped() -> Bool {
        guard let block = malloc(6 << 20) else { exit(4) }
        defer { free(block) }
        return isMapped(block)
    }

    /// The asked bytes are resident after the one call, and a block of several MiB then comes from the heap
    /// (not a fresh mmap), so freeing it keeps its pages for the next one.
    @Test func prefaultsInOneCallAndKeepsLargeBlocksOnTheHeap() async {
        await #expect(processExitsWith: .success) {
            let before = OneShotHeapTests.residentBytes()
            guard havpn_prepare_one_shot_heap(8 << 20) == 0 else { exit(2) }
            guard OneShotHeapTests.residentBytes() - before >= 7 << 20 else { exit(3) }
            exit(OneShotHeapTests.sixMiBBlockIsMapped() ? 5 : 0)
        }
    }

    /// Without the settings a block of 6 MiB is a fresh mmap: what the test above tells apart. (glibc raises
    /// its threshold after a large mapped block is freed, and MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES set
    /// it: the exit test's fresh process has done neither before this block.)
    @Test func withoutItALargeBlockIsMapped() async {
        await #expect(processExitsWith: .success) { exit(OneShotHeapTests.sixMiBBlockIsMapped() ? 0 : 5) }
    }

    /// At most 16 MiB are pre-faulted, whatever the topology's size asks for.
    @Test func prefaultsAtMost16MiB() async {
        await #expect(processExitsWith: .success) {
            let before = OneShotHeapTests.residentBytes()
            guard havpn_prepare_one_shot_heap(1 << 30) == 0 else { exit(2) }
            let grown = OneShotHeapTests.residentBytes() - before
            exit(grown >= 15 << 20 && grown <= 20 << 20 ? 0 : 3)
        }
    }
}
