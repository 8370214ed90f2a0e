internal import CNetlink
import Glibc
import HAVPNModel

/// The result of one request of a batch: 0 or a positive errno, plus the kernel's extended-ack
/// text when it gave one (e.g. "Device can not be enslaved while up").
struct NetlinkAcknowledgement {
    var errno: Int32
    var kernelMessage: String?
}

/// A NETLINK_ROUTE socket speaking raw netlink.
///
/// libnl 3.7 can neither build nor parse bond options, tun info or IFA_PROTO, and its
/// send-and-wait helpers cost one round trip per request. This socket instead sends whole
/// batches of requests (one `sendto` per chunk), then collects the acks, matched by sequence
/// number, so 10,000 routes cost a few dozen system calls. The kernel handles the messages of one
/// `sendto` in order and goes on after a failed one, so every request gets its own ack.
final class NetlinkSocket {
    private let fd: Int32
    private var nextSequence: UInt32 = 1
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    /// Counters for the apply report.
    private(set) var sendCalls = 0
    private(set) var messagesSent = 0

    private static let receiveBufferSize = 1 << 20
    /// Bounds of one `sendto`: below the socket send buffer, and few enough acks (each one
    /// costs roughly 1 KiB of receive-buffer accounting) to never overflow the receive buffer.
    private static let chunkBytes = 128 * 1024
    private static let chunkMessages = 1024
    /// Requests per `sendto`, bounded by the receive buffer the kernel actually granted (without
    /// CAP_NET_ADMIN in the initial user namespace the FORCE options fail and it stays small).
    private var ackWindow = NetlinkSocket.chunkMessages
    private static let socketBufferBytes: Int32 = 32 << 20

    /// Opens the socket in the calling thread's network namespace; it stays bound to it.
    init() throws(HAVPNError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        guard fd >= 0 else {
            throw KernelErrors.error(KernelErrors.current, "cannot open a netlink socket", object: nil)
        }
        self.fd = fd
        receiveBuffer = .allocate(byteCount: Self.receiveBufferSize, alignment: 8)
        // Large buffers: a dump of 10,000 routes and the acks of a big batch must fit.
        // The FORCE variants need CAP_NET_ADMIN, which havpn has anyway; fall back quietly.
        if !setOption(SOL_SOCKET, SO_RCVBUFFORCE, Self.socketBufferBytes) {
            _ = setOption(SOL_SOCKET, SO_RCVBUF, Self.socketBufferBytes)
        }
        if !setOption(SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20) { _ = setOption(SOL_SOCKET, SO_SNDBUF, 4 << 20) }
        var granted: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &length) == 0 {
            ackWindow = max(16, min(Self.chunkMessages, Int(granted) / 2048))
        }
        // Acks without the echoed request, but with the kernel's error text.
        _ = setOption(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        _ = setOption(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        // Never hang forever on a lost ack.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        guard bound == 0 else {
            let code = KernelErrors.current
            close(fd)
            receiveBuffer.deallocate()
            throw KernelErrors.error(code, "cannot bind the netlink socket", object: nil)
        }
    }

    deinit {
        close(fd)
        receiveBuffer.deallocate()
    }

    /// A new batch whose sequence numbers follow the last one used.
    func makeBatch() -> NetlinkBatch { NetlinkBatch(firstSequence: nextSequence) }

    /// Sends every request of `batch` and returns one acknowledgement per request, in order.
    /// Replies other than acks (e.g. to RTM_GETLINK) go to `onReply` with their request index.
    func execute(
        _ batch: NetlinkBatch,
        onReply: ((Int, NetlinkMessage) -> Void)? = nil
    ) throws(HAVPNError) -> [NetlinkAcknowledgement] {
        guard !batch.isEmpty else { return [] }
        precondition(batch.firstSequence == nextSequence, "batch built before another request")
        nextSequence = batch.firstSequence &+ UInt32(batch.count)
        var results = [NetlinkAcknowledgement?](repeating: nil, count: batch.count)
        var first = 0
        while first < batch.count {
            var last = first
            while last + 1 < batch.count, last + 1 - first < ackWindow,
                batch.messageRange(last + 1).upperBound - batch.messageRange(first).lowerBound <= Self.chunkBytes
            {
                last += 1
            }
            let range = batch.messageRange(first).lowerBound..<batch.messageRange(last).upperBound
            try send(batch.bytes, range)
            messagesSent += last - first + 1
            var pending = last - first + 1
            while pending > 0 {
                try receive { (message: NetlinkMessage) in
                    let index = Int(message.sequence &- batch.firstSequence)
                    guard index >= first, index <= last else { return }  // stale, from an aborted call
                    if message.type == Int(NLMSG_ERROR) {
                        if results[index] == nil { pending -= 1 }
                        results[index] = Self.acknowledgement(message)
                    } else if message.type != Int(NLMSG_DONE) {
                        onReply?(index, message)
                    }
                }
            }
            first = last + 1
        }
        return results.map { $0! }
    }

    /// Dumps all objects of one kind (`type` = RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) and calls
    /// `body` for each. Returns false when the kernel flagged the dump as interrupted by a
    /// concurrent change (NLM_F_DUMP_INTR); the caller then starts over.
    func dump<Header>(
        _ type: Int, header: Header, _ body: (NetlinkMessage) -> Void
    ) throws(HAVPNError) -> Bool {
        var request = makeBatch()
        request.beginMessage(type: type, flags: Int32(NLM_F_DUMP))
        request.appendFixed(header)
        request.endMessage()
        nextSequence = request.firstSequence &+ 1
        // A dump request must not ask for an ack: clear NLM_F_ACK in the built header.
        var bytes = request.bytes
        let flags = UInt16(NLM_F_REQUEST) | UInt16(NLM_F_DUMP)
        withUnsafeBytes(of: flags) { bytes.replaceSubrange(6..<8, with: $0) }
        try send(bytes, bytes.indices)
        var done = false
        var consistent = true
        var failure: Int32 = 0
        while !done {
            try receive { (message: NetlinkMessage) in
                guard message.sequence == request.firstSequence, !done else { return }
                if message.flags & Int32(NLM_F_DUMP_INTR) != 0 { consistent = false }
                switch message.type {
                case Int(NLMSG_DONE):
                    done = true
                case Int(NLMSG_ERROR):
                    failure = Self.acknowledgement(message).errno
                    done = true
                default:
                    body(message)
                }
            }
        }
        if failure != 0 { throw KernelErrors.error(failure, "netlink dump failed", object: nil) }
        return consistent
    }

    private func send(_ bytes: [UInt8], _ range: Range<Int>) throws(HAVPNError) {
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        while true {
            let sent = bytes.withUnsafeBytes { all in
                withUnsafePointer(to: &kernel) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, all.baseAddress! + range.lowerBound, range.count, 0, $0,
                               socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
            if sent >= 0 {
                sendCalls += 1
                return
            }
            let code = KernelErrors.current
            if code == EINTR { continue }
            throw KernelErrors.error(code, "cannot send netlink request", object: nil)
        }
    }

    /// Receives one datagram and calls `body` for each message in it.
    private func receive(_ body: (NetlinkMessage) -> Void) throws(HAVPNError) {
        while true {
            let count = recv(fd, receiveBuffer.baseAddress, receiveBuffer.count, 0)
            if count >= 0 {
                NetlinkParse.forEachMessage(in: UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]), body)
                return
            }
            let code = KernelErrors.current
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                throw KernelErrors.error(code, "no netlink answer within 30 s", object: nil)
            case ENOBUFS:
                throw KernelErrors.error(code, "netlink receive buffer overflowed; answers were lost", object: nil)
            default:
                throw KernelErrors.error(code, "cannot receive netlink answer", object: nil)
            }
        }
    }

    private static func acknowledgement(_ message: NetlinkMessage) -> NetlinkAcknowledgement {
        let payload = message.payload
        guard payload.count >= MemoryLayout<nlmsgerr>.size else { return .init(errno: EPROTO) }
        let error = payload.loadUnaligned(as: nlmsgerr.self)
        var text: String?
        if message.flags & Int32(NLM_F_ACK_TLVS) != 0 {
            // With NETLINK_CAP_ACK only the request's header is echoed (NLM_F_CAPPED).
            var offset = MemoryLayout<nlmsgerr>.size
            if message.flags & Int32(NLM_F_CAPPED) == 0 {
                offset += Int(error.msg.nlmsg_len) - NetlinkParse.headerSize
            }
            offset = NetlinkParse.align(offset)
            if offset < payload.count {
                NetlinkParse.forEachAttribute(in: UnsafeRawBufferPointer(rebasing: payload[offset...])) { type, value in
                    if type == Int(NLMSGERR_ATTR_MSG.rawValue) { text = value.netlinkString }
                }
            }
        }
        return NetlinkAcknowledgement(errno: -error.error, kernelMessage: text)
    }

    private func setOption(_ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var value = value
        return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }
}
