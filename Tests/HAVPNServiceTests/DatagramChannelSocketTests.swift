import Glibc
import HAVPNModel
import HAVPNTestSupport
import NIOCore
import Synchronization
import Testing

@testable import HAVPNService

/// The announcement socket and the ICMPv6 prober on swift-nio, on loopback: what arrives (with the
/// arrival interface from IPV6_PKTINFO), that a datagram the kernel refuses leaves the socket
/// working, and that closing gives the descriptor back.
@Suite struct DatagramChannelSocketTests {
    /// The inode of the socket behind `fd`, nil once the number is closed.
    private func inode(_ fd: Int32) -> ino_t? {
        var status = stat()
        return fstat(fd, &status) == 0 ? status.st_ino : nil
    }

    @Test func receivesWithPacketInfoAndSends() throws {
        let loopback = try #require(IPv6Address("::1"))
        let received = Mutex<[ReceivedDatagram]>([])
        let listener = try UDP6Socket(netns: nil, bindTo: loopback, port: 0) { d in received.withLock { $0.append(d) } }
        defer { listener.close() }
        let port = try #require(listener.localPort)
        let sender = try UDP6Socket(netns: nil, bindTo: loopback, port: 0)
        defer { sender.close() }

        sender.send(Array("one".utf8), to: loopback, port: port)
        #expect(pollUntil { received.withLock { $0.count } == 1 })
        let first = try #require(received.withLock { $0.first })
        #expect(first.payload == Array("one".utf8))
        #expect(first.source == loopback)
        #expect(first.sourcePort == sender.localPort)
        #expect(first.interfaceIndex == Int32(if_nametoindex("lo")), "IPV6_PKTINFO names the arrival interface")
    }

    /// A refused datagram (a v4-mapped destination from a socket bound to ::1: ENETUNREACH) is
    /// dropped; the socket keeps working. Through NIO's write path it would close the channel.
    @Test func aRefusedDatagramLeavesTheSocketOpen() throws {
        let loopback = try #require(IPv6Address("::1"))
        let received = Mutex<[[UInt8]]>([])
        let listener = try UDP6Socket(netns: nil, bindTo: loopback, port: 0) { d in
            received.withLock { $0.append(d.payload) }
        }
        defer { listener.close() }
        let port = try #require(listener.localPort)
        let sender = try UDP6Socket(netns: nil, bindTo: loopback, port: 0)
        defer { sender.close() }

        sender.send(Array("lost".utf8), to: try #require(IPv6Address("::ffff:192.0.2.1")), port: port)
        sender.send(Array("kept".utf8), to: loopback, port: port)
        #expect(pollUntil { received.withLock { $0 } == [Array("kept".utf8)] })
        #expect(sender.channel.isActive, "the refused datagram did not close the sender")
    }

    @Test func closeReleasesTheDescriptor() throws {
        let loopback = try #require(IPv6Address("::1"))
        let socket = try UDP6Socket(netns: nil, bindTo: loopback, port: 0) { _ in }
        let fd = socket.descriptor
        let original = try #require(inode(fd))
        socket.close()
        try socket.channel.closeFuture.wait()
        // The number may already belong to another test's descriptor, but not to this socket.
        #expect(pollUntil { inode(fd) != original }, "NIO closed the socket's descriptor")
    }

    /// An echo request to ::1 comes back (ping socket, or raw socket where ping sockets are not
    /// allowed) with its sequence number.
    @Test func proberHearsLoopbackEchoReplies() throws {
        let loopback = try #require(IPv6Address("::1"))
        let replies = Mutex<[UInt16]>([])
        let prober = try ICMPv6Prober(netns: nil) { address, sequence in
            if address == loopback { replies.withLock { $0.append(sequence) } }
        }
        defer { prober.close() }
        prober.send(to: loopback, sequence: 7)
        #expect(pollUntil { replies.withLock { $0.contains(7) } })
    }
}
