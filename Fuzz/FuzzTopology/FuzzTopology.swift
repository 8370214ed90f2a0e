import FuzzSupport
import HAVPNModel

/// libFuzzer entry: any bytes a ConfigMap editor can put into the topology file. The decoder must
/// never trap, and a rejection is one line (`file:line:col: error[code]: ...`), as `validate` prints it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopology(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    // The bytes as the CLI and the side-car read them: not UTF-8 is for libyaml's reader to refuse.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let topology = try TopologyDecoder.decode(yaml: bytes, file: "fuzz.yaml")
        // What decodes must plan: the address plan is derived from every accepted topology.
        _ = AddressPlan(topology: topology)
    } catch {
        let line = error.description
        if line.contains("\n") || !line.contains("error[") {
            fatalError("rejection is not one error line: \(line)")
        }
    }
    return 0
}

@_cdecl("FuzzTopology_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzTopology(data, size) }
}
