import Glibc
import HAVPNTestSupport
import Testing

@testable import HAVPNNetlink

/// Hand-built rtnetlink messages: nlmsghdr (len, type, flags, seq, pid; little-endian) + body.
private func message(type: UInt16, body: [UInt8], length: UInt32? = nil) -> [UInt8] {
    let total = length ?? UInt32(16 + body.count)
    var bytes: [UInt8] = []
    bytes += withUnsafeBytes(of: total.littleEndian, Array.init)
    bytes += withUnsafeBytes(of: type.littleEndian, Array.init)
    bytes += [0, 0]  // flags
    bytes += [1, 0, 0, 0]  // seq
    bytes += [0, 0, 0, 0]  // pid
    return bytes + body
}

/// struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
private func rtmsg(protocol: UInt8) -> [UInt8] { [2, 24, 0, 0, 254, `protocol`, 0, 1, 0, 0, 0, 0] }

@Suite struct NetlinkEventMonitorParseTests {
    let ifinfomsg = [UInt8](repeating: 0, count: 16)
    let ifaddrmsg: [UInt8] = [10, 104, 0x80, 0, 5, 0, 0, 0]

    @Test func newLink() {
        #expect(NetlinkEventMonitor.parse(message(type: 16, body: ifinfomsg)[...]) == [.link])
        #expect(NetlinkEventMonitor.parse(message(type: 17, body: ifinfomsg)[...]) == [.link])
    }

    /// An RTM_NEWLINK whose IFLA_IFNAME is a server tap also says bonds are failing over.
    @Test func serverTapChange() {
        func named(_ name: String) -> [UInt8] {
            let value = Array(name.utf8) + [0]
            let length = UInt16(4 + value.count)
            let padded = value + [UInt8](repeating: 0, count: (4 - Int(length) % 4) % 4)
            let ifname = withUnsafeBytes(of: length.littleEndian, Array.init) + [3, 0] + padded
            return message(type: 16, body: ifinfomsg + ifname)
        }
        #expect(NetlinkEventMonitor.parse(named("tap1")[...], tapPrefix: "tap") == [.link, .serverTap])
        #expect(NetlinkEventMonitor.parse(named("bond0")[...], tapPrefix: "tap") == [.link])
        #expect(NetlinkEventMonitor.parse(named("tapx")[...], tapPrefix: "tap") == [.link])
        #expect(NetlinkEventMonitor.parse(named("tap1")[...]) == [.link])
    }

    @Test func deletedAddress() {
        #expect(NetlinkEventMonitor.parse(message(type: 21, body: ifaddrmsg)[...]) == [.address])
    }

    @Test func routeOwnedByHavpn() {
        #expect(NetlinkEventMonitor.parse(message(type: 24, body: rtmsg(protocol: 201))[...]) == [.ownedRoute])
        #expect(NetlinkEventMonitor.parse(message(type: 25, body: rtmsg(protocol: 201))[...]) == [.ownedRoute])
    }

    @Test func routeOfAnotherProtocolIsIgnored() {
        #expect(NetlinkEventMonitor.parse(message(type: 24, body: rtmsg(protocol: 4))[...]).isEmpty)
        #expect(NetlinkEventMonitor.parse(message(type: 3, body: [0, 0, 0, 0])[...]).isEmpty)  // NLMSG_DONE
    }

    @Test func severalMessagesInOneDatagram() {
        let datagram =
            message(type: 16, body: ifinfomsg) + message(type: 24, body: rtmsg(protocol: 4))
            + message(type: 20, body: ifaddrmsg) + message(type: 25, body: rtmsg(protocol: 201))
        #expect(NetlinkEventMonitor.parse(datagram[...]) == [.link, .address, .ownedRoute])
    }

    @Test func messagesArePaddedToFourBytes() {
        let unaligned = message(type: 20, body: ifaddrmsg + [9, 9]) + [0, 0]
        #expect(unaligned.count % 4 == 0)
        let datagram = unaligned + message(type: 16, body: ifinfomsg)
        #expect(NetlinkEventMonitor.parse(datagram[...]) == [.address, .link])
    }

    @Test func sliceWithAnOffsetStartIndex() {
        let buffer = [0xff, 0xff, 0xff, 0xff] + message(type: 24, body: rtmsg(protocol: 201))
        #expect(NetlinkEventMonitor.parse(buffer[4...]) == [.ownedRoute])
    }

    @Test func truncatedInputDoesNotCrash() {
        let full = message(type: 16, body: ifinfomsg) + message(type: 24, body: rtmsg(protocol: 201))
        for cut in 0..<full.count {
            let events = NetlinkEventMonitor.parse(full[..<cut])
            #expect(events == (cut >= 32 ? [.link] : []), "cut at \(cut)")
        }
        #expect(NetlinkEventMonitor.parse(message(type: 24, body: [])[...]).isEmpty)
        #expect(NetlinkEventMonitor.parse(message(type: 24, body: [2, 24, 0, 0, 254])[...]).isEmpty)
        #expect(NetlinkEventMonitor.parse(message(type: 16, body: ifinfomsg, length: 8)[...]).isEmpty)
        #expect(NetlinkEventMonitor.parse(message(type: 16, body: ifinfomsg, length: 0xffff_ffff)[...]).isEmpty)
    }
}

/// The receive thread sleeps in `poll` with no timeout; `close()` must wake it at once so that it
/// stops and the socket's descriptor is released. Runs in the test's own namespace (joining
/// rtnetlink groups needs no privilege).
@Suite struct NetlinkEventMonitorCloseTests {
    @Test func closeWakesTheIdleThreadWhichReleasesTheSocket() throws {
        let monitor = try NetlinkEventMonitor(netns: nil, tapPrefix: "tap")
        let fd = monitor.descriptor
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        let socketInode = status.st_ino
        monitor.start { _ in }
        #expect(pollUntil { monitor.isWaiting }, "the receive thread sleeps in poll")

        let closing = ContinuousClock.now
        monitor.close()
        #expect(ContinuousClock.now - closing < .milliseconds(100), "close() does not wait for the thread")
        // The number may already belong to another test's descriptor, but not to this socket. Without
        // the wake the thread would sleep forever and keep it.
        #expect(
            pollUntil(within: .seconds(2)) { fstat(fd, &status) != 0 || status.st_ino != socketInode },
            "the woken thread stopped and released the netlink socket"
        )
        monitor.close()
    }

    @Test func closeBeforeStartReleasesTheSocket() throws {
        let monitor = try NetlinkEventMonitor(netns: nil, tapPrefix: "tap")
        let fd = monitor.descriptor
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        let socketInode = status.st_ino
        monitor.close()
        #expect(fstat(fd, &status) != 0 || status.st_ino != socketInode)
        monitor.start { _ in }  // after close: no thread, nothing to read
    }
}
