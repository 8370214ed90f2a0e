import Glibc
import HAVPNModel
import HAVPNNetlink

/// An AF_PACKET socket on one tap, for the per-server path beacons.
///
/// Why AF_PACKET: a tap is a bond slave and has no address of its own, and frames arriving on an
/// *inactive* slave are dropped by the bond before IP sees them, yet are still delivered to a
/// packet socket bound to exactly that slave (the bond's rx handler returns RX_HANDLER_EXACT).
/// So havpn can send and hear beacons on every server path, active or backup.
final class PacketSocket: Sendable {
    private let socket: PosixSocket
    let interfaceIndex: Int32
    let interfaceName: String
    let etherType: UInt16

    init(netns: String?, interface name: String, etherType: UInt16) throws(HAVPNError) {
        let what = "packet socket on \(name)"
        let index = try NetworkNamespace.run(in: netns) { () throws(HAVPNError) -> Int32 in
            Int32(bitPattern: if_nametoindex(name))
        }
        guard index > 0 else { throw HAVPNError(.io, "no such interface", object: what) }
        socket = try PosixSocket(
            domain: AF_PACKET,
            type: Int32(SOCK_DGRAM.rawValue),
            protocol: Int32(etherType.bigEndian),
            netns: netns,
            what: what
        )
        interfaceIndex = index
        interfaceName = name
        self.etherType = etherType
        let rc = Self.withLinkLayerAddress(ifindex: index, etherType: etherType, destination: nil) {
            bind(socket.fd, $0, $1)
        }
        guard rc == 0 else { throw PosixSocket.error("cannot bind", object: what) }
    }

    /// Sends `payload` out of this tap to `mac`, or to the Ethernet broadcast address when nil
    /// (the openvpn server floods a broadcast to every client of that server, client-to-client,
    /// and forwards a unicast frame only to the client that owns the MAC).
    @discardableResult
    func send(_ payload: [UInt8], to mac: [UInt8]?) -> Bool {
        let n = Self.withLinkLayerAddress(
            ifindex: interfaceIndex,
            etherType: etherType,
            destination: mac ?? Self.broadcastMAC
        ) { sa, len in
            socket.withFD { sendto($0, payload, payload.count, Int32(MSG_DONTWAIT), sa, len) } ?? -1
        }
        return n == payload.count
    }

    /// Calls `handler` with each frame's payload and source MAC.
    func startReceiving(_ handler: @escaping @Sendable ([UInt8], [UInt8]) -> Void) {
        let s = socket
        SocketReader.shared.add(s) {
            var buffer = [UInt8](repeating: 0, count: 256)
            var from = [UInt8](repeating: 0, count: 20)
            var length = socklen_t(20)
            let n = from.withUnsafeMutableBytes { raw in
                recvfrom(
                    s.fd,
                    &buffer,
                    buffer.count,
                    Int32(MSG_DONTWAIT),
                    raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                    &length
                )
            }
            // sockaddr_ll: halen at byte 11, address from byte 12.
            if n > 0 { handler(Array(buffer[0..<n]), Array(from[12..<(12 + Int(min(from[11], 8)))])) }
        }
    }

    static let broadcastMAC: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]

    func close() { socket.close() }

    /// struct sockaddr_ll, laid out by hand (<netpacket/packet.h> is not in Swift's Glibc module):
    /// u16 family, be16 protocol, s32 ifindex, u16 hatype, u8 pkttype, u8 halen, u8 addr[8].
    private static func withLinkLayerAddress<R>(
        ifindex: Int32,
        etherType: UInt16,
        destination: [UInt8]?,
        _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        var raw = [UInt8](repeating: 0, count: 20)
        let family = UInt16(AF_PACKET)
        raw[0] = UInt8(family & 0xff)
        raw[1] = UInt8(family >> 8)
        raw[2] = UInt8(etherType >> 8)  // network byte order
        raw[3] = UInt8(etherType & 0xff)
        withUnsafeBytes(of: ifindex.littleEndian) { for i in 0..<4 { raw[4 + i] = $0[i] } }
        if let destination, destination.count <= 8 {
            raw[11] = UInt8(destination.count)
            for (i, byte) in destination.enumerated() { raw[12 + i] = byte }
        }
        return raw.withUnsafeBytes { bytes in
            body(bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(20))
        }
    }
}
