import FuzzSupport
import HAVPNControl
import HAVPNModel

/// libFuzzer entry: every datagram the shoot side can receive on the announcement port, and every
/// beacon frame a tap can deliver. Decoding must be total (no trap), and what decodes must
/// re-encode to something that decodes to the same message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAnnouncement(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let key: [UInt8] = Array("fuzz-key".utf8)
    for candidateKey in [nil, key] {
        guard case .success(let decoded) = AnnouncementCodec.decode(bytes, key: candidateKey) else { continue }
        switch decoded {
        case .havpn(let message, _):
            let again = AnnouncementCodec.decode(
                AnnouncementCodec.encode(message, key: candidateKey),
                key: candidateKey
            )
            guard case .success(.havpn(let roundTripped, _)) = again, roundTripped == message else {
                fatalError("havpn announcement does not survive a round trip: \(message)")
            }
        case .vpn2(let podIP):
            let again = AnnouncementCodec.decode(AnnouncementCodec.encodeVPN2(podIP: podIP), key: candidateKey)
            guard case .success(.vpn2(let roundTripped)) = again, roundTripped == podIP else {
                fatalError("vpn2 announcement does not survive a round trip: \(podIP)")
            }
        }
    }
    if let beacon = PathBeacon(bytes: bytes), PathBeacon(bytes: beacon.bytes) != beacon {
        fatalError("beacon does not survive a round trip: \(bytes)")
    }
    return 0
}

@_cdecl("FuzzAnnouncement_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzAnnouncement(data, size) }
}
