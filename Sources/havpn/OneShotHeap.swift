import COneShotHeap

/// The heap of a short-lived command, prepared once before the topology is decoded.
///
/// A plan or apply of a large topology (10,000 pod IPs) allocates some tens of MiB in arrays that
/// grow and are dropped; each fresh page is a page fault. On a server a fault costs well under a
/// microsecond, but in user-mode-linux (the lab) and in sandboxes like gVisor it is a round trip
/// through the host, and faults became most of a no-op plan's time there. So the command keeps
/// large blocks on the heap for reuse and faults in one block in a single call, sized by the file.
/// The long-lived side-car does none of this: its resident memory is what counts there.
enum OneShotHeap {
    /// Bytes faulted in up front for a topology file of `topologyBytes` bytes: 40 times the file
    /// (decoding the 10,000-IP file, 136 KiB, peaks at 5.5 MiB and its plan at 7.6 MiB), at least 2 MiB,
    /// at most the C side's cap (`HAVPN_ONE_SHOT_HEAP_PREFAULT_MAX`, 16 MiB).
    static func prefaultBytes(topologyBytes: Int) -> Int {
        min(max(topologyBytes * 40, 2 << 20), Int(HAVPN_ONE_SHOT_HEAP_PREFAULT_MAX))
    }

    static func prepare(topologyBytes: Int) {
        // A failure only means the pages are faulted one by one, as without this call.
        _ = havpn_prepare_one_shot_heap(prefaultBytes(topologyBytes: topologyBytes))
    }
}
