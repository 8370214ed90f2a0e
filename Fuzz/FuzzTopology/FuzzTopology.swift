import HAVPNModel

/// libFuzzer entry: any bytes a ConfigMap editor can put into the topology file. The decoder must
/// never trap, and a rejection is one line (`file:line:col: error[code]: ...`), as `validate` prints it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopology(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let topology = try TopologyDecoder.decode(yaml: text, file: "fuzz.yaml")
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

/// SwiftPM links an executable target with `main` aliased to `<module>_main`, which would hide
/// libFuzzer's own `main`; this entry point hands the command line to libFuzzer's driver instead.
@_cdecl("FuzzTopology_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTopology(data, size) }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
