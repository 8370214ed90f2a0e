import Glibc
import HAVPNModel
import HAVPNNetlink

/// An AF_PACKET socket on one tap, for the per-server path beacons.
///
/// Why AF_PACKET: a tap is a bond slave and has no address of its own, and frames arriving on an
/// *inactive* slave are dropped by the bond before IP sees them, yet are still delivered to a
/// packet socket bound to exactly that slave (the bond's rx handler returns RX_HANDLER_EXACT).
/// So havpn can send and hear beacons on every server path, active or backup.
final class PacketSocket: @unchecked Sendable {
    // @unchecked: immutable after init; the kernel serialises use of the socket.
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
        socket = try PosixSocket(domain: AF_PACKET, type: Int32(SOCK_DGRAM.rawValue), protocol: Int32(etherType.bigEndian), netns: netns, what: what)
        interfaceIndex = index
        interfaceName = name
        self.etherType = etherType
        let rc = Self.withLinkLayerAddress(ifindex: index, etherType: etherType, broadcast: false) { bind(socket.fd, $0, $1) }
        guard rc == 0 else { throw PosixSocket.error("cannot bind", object: what) }
    }

    /// Sends `payload` to the Ethernet broadcast address out of this tap; the openvpn server
    /// floods it to every client of that server (client-to-client).
    @discardableResult
    func broadcast(_ payload: [UInt8]) -> Bool {
        let n = Self.withLinkLayerAddress(ifindex: interfaceIndex, etherType: etherType, broadcast: true) { sa, len in
            sendto(socket.fd, payload, payload.count, Int32(MSG_DONTWAIT), sa, len)
        }
        return n == payload.count
    }

    func startReceiving(_ handler: @escaping @Sendable ([UInt8]) -> Void) {
        let s = socket
        startReceiveThread(name: "havpn-beacon-\(interfaceName)", socket: s) {
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = recv(s.fd, &buffer, buffer.count, 0)
            if n > 0 { handler(Array(buffer[0..<n])) }
        }
    }

    func close() { socket.close() }

    /// struct sockaddr_ll, laid out by hand (<netpacket/packet.h> is not in Swift's Glibc module):
    /// u16 family, be16 protocol, s32 ifindex, u16 hatype, u8 pkttype, u8 halen, u8 addr[8].
    private static func withLinkLayerAddress<R>(
        ifindex: Int32,
        etherType: UInt16,
        broadcast: Bool,
        _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
    ) -> R {
        var raw = [UInt8](repeating: 0, count: 20)
        let family = UInt16(AF_PACKET)
        raw[0] = UInt8(family & 0xff)
        raw[1] = UInt8(family >> 8)
        raw[2] = UInt8(etherType >> 8)  // network byte order
        raw[3] = UInt8(etherType & 0xff)
        withUnsafeBytes(of: ifindex.littleEndian) { for i in 0..<4 { raw[4 + i] = $0[i] } }
        if broadcast {
            raw[11] = 6
            for i in 12..<18 { raw[i] = 0xff }
        }
        return raw.withUnsafeBytes { bytes in
            body(bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(20))
        }
    }
}
