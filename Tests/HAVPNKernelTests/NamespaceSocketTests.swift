import Foundation
import HAVPNModel
import HAVPNTestSupport
import Synchronization
import Testing

@testable import HAVPNService

/// The NIO-held sockets are created inside the namespace `havpn run --netns` names, and keep it
/// although NIO's event-loop threads never enter it: each binds (without IPV6_FREEBIND) to an
/// address only that namespace has, and hears traffic sent there.
@Suite(.enabled(if: KernelLab.isActive, "needs the real-kernel lab (scripts/kernel-tests)"))
struct NamespaceSocketTests {
    private static let address = "fd00:6e:696f::1"

    private func namespaceWithAddress() throws -> TestNamespace {
        let ns = try TestNamespace()
        try ns.ip("link", "set", "lo", "up")
        try ns.ip("link", "add", "dummy0", "type", "dummy")
        try ns.ip("link", "set", "dummy0", "up")
        try ns.ip("addr", "add", "\(Self.address)/64", "dev", "dummy0", "nodad")
        return ns
    }

    @Test func announcementSocketIsOpenedInTheNamespace() throws {
        let ns = try namespaceWithAddress()
        let local = try #require(IPv6Address(Self.address))
        // The test process's own namespace has no such address: binding there fails.
        #expect(throws: HAVPNError.self) { try UDP6Socket(netns: nil, bindTo: local, port: 0) }

        let received = Mutex<[ReceivedDatagram]>([])
        let listener = try UDP6Socket(netns: ns.name, bindTo: local, port: 0) { d in
            received.withLock { $0.append(d) }
        }
        defer { listener.close() }
        let port = try #require(listener.localPort)
        let sender = try UDP6Socket(netns: ns.name, bindTo: local, port: 0)
        defer { sender.close() }
        sender.send(Array("hello".utf8), to: local, port: port)
        #expect(pollUntil { received.withLock { $0.count } == 1 })
        let datagram = try #require(received.withLock { $0.first })
        #expect(datagram.payload == Array("hello".utf8))
        #expect(datagram.source == local)
        #expect(datagram.interfaceIndex != 0, "IPV6_PKTINFO arrives from inside the namespace too")
    }

    @Test func proberIsOpenedInTheNamespace() throws {
        let ns = try namespaceWithAddress()
        let local = try #require(IPv6Address(Self.address))
        let replies = Mutex<[UInt16]>([])
        let prober = try ICMPv6Prober(netns: ns.name) { address, sequence in
            if address == local { replies.withLock { $0.append(sequence) } }
        }
        defer { prober.close() }
        prober.send(to: local, sequence: 42)
        #expect(pollUntil { replies.withLock { $0.contains(42) } }, "the echo reply came back inside the namespace")
    }
}
