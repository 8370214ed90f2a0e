import FuzzSupport
import HAVPNNetlink

/// libFuzzer entry: any datagram a netlink socket can deliver (dumps, events, acknowledgements),
/// including foreign objects other software creates. Every decoder must be total: no trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetlink(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    _ = NetlinkDecoding.decodeEverything(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_cdecl("FuzzNetlink_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzNetlink(data, size) }
}
