import Glibc
import HAVPNModel
import Synchronization
import Testing

@testable import HAVPNService

/// The one reader thread: it reads a registered socket when a datagram arrives, and closing the
/// socket wakes it out of `poll` (which has no timeout) so that the descriptor is given back.
@Suite struct SocketReaderTests {
    /// Polls `condition` every 5 ms until `limit`; true when it held.
    private func eventually(within limit: Duration = .seconds(2), _ condition: () -> Bool) -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }

    @Test func readsARegisteredSocketAndReleasesItOnClose() throws {
        let loopback = try #require(IPv6Address("::1"))
        let socket = try UDP6Socket(netns: nil, bindTo: loopback, port: 0)
        let port = try #require(socket.localPort)
        let received = Mutex<[UInt8]>([])
        socket.startReceiving { datagram in received.withLock { $0 += datagram.payload } }

        let sender = try UDP6Socket(netns: nil, bindTo: loopback, port: 0)
        defer { sender.close() }
        #expect(sender.send(Array("ping".utf8), to: loopback, port: port))
        #expect(eventually { received.withLock { $0 } == Array("ping".utf8) }, "the reader read the datagram")

        // The reader holds the descriptor while it waits in poll; closing must wake it to let go.
        let descriptor = socket.descriptor
        #expect(eventually { descriptor.isInUse }, "the reader polls the socket")
        socket.close()
        #expect(eventually { descriptor.isReleased }, "closing woke the reader, which gave the descriptor back")
    }
}
