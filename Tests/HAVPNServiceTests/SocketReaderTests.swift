import Glibc
import HAVPNTestSupport
import Synchronization
import Testing

@testable import HAVPNService

/// The one reader thread: it reads a registered socket when a datagram arrives, and closing the
/// socket wakes it out of `poll` (which has no timeout) so that the descriptor is given back.
@Suite struct SocketReaderTests {
    /// A UDP socket on ::1 and an ephemeral port (the reader reads any datagram descriptor).
    private func loopbackSocket() throws -> (PosixSocket, UInt16) {
        let socket = try PosixSocket(
            domain: AF_INET6,
            type: Int32(SOCK_DGRAM.rawValue),
            protocol: Int32(IPPROTO_UDP),
            netns: nil,
            what: "udp6"
        )
        var address = Self.loopback(port: 0)
        let length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket.fd, $0, length) }
        }
        #expect(bound == 0)
        var named = length
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket.fd, $0, &named) }
        }
        return (socket, UInt16(bigEndian: address.sin6_port))
    }

    /// [::1]:port.
    private static func loopback(port: UInt16) -> sockaddr_in6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &address.sin6_addr) { $0[15] = 1 }
        return address
    }

    @Test func readsARegisteredSocketAndReleasesItOnClose() throws {
        let (socket, port) = try loopbackSocket()
        let received = Mutex<[UInt8]>([])
        SocketReader.shared.add(socket) {
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = recv(socket.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n > 0 { received.withLock { $0 += buffer[0..<n] } }
        }

        let (sender, _) = try loopbackSocket()
        defer { sender.close() }
        let payload = Array("ping".utf8)
        var destination = Self.loopback(port: port)
        let sent = withUnsafePointer(to: &destination) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sender.withFD { sendto($0, payload, payload.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        #expect(sent == payload.count)
        #expect(pollUntil(within: .seconds(2)) { received.withLock { $0 } == payload }, "the reader read the datagram")

        // The reader holds the descriptor while it waits in poll; closing must wake it to let go.
        #expect(pollUntil(within: .seconds(2)) { socket.isInUse }, "the reader polls the socket")
        socket.close()
        #expect(
            pollUntil(within: .seconds(2)) { socket.isReleased },
            "closing woke the reader, which gave the descriptor back"
        )
    }
}
