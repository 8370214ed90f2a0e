internal import CNetlink
import Glibc
import HAVPNModel

/// The result of one request of a batch: 0 or a positive errno, plus the kernel's extended-ack
/// text when it gave one (e.g. "Device can not be enslaved while up").
struct NetlinkAcknowledgement {
    var errno: Int32
    var kernelMessage: String?
}

/// A NETLINK_ROUTE socket for requests and dumps, opened and read through libnl.
///
/// libnl's send-and-wait helpers cost one round trip per request. This socket instead sends
/// whole batches of libnl-built requests (one `nl_sendto` per chunk), then collects the acks
/// with `nl_recv`, matched by sequence number, so 10,000 routes cost a few dozen system calls.
/// The kernel handles the messages of one send in order, goes on after a failed one, and
/// answers a failed request whether it asked for an ack or not. So only the last request of a
/// send asks for one: every error of that send is queued before it, and a request with no
/// error before that ack succeeded. One ack per request would be one `recvmsg` per request.
final class NetlinkSocket {
    private let socket: LibnlSocket
    private var nextSequence: UInt32 = 1
    /// Counters for the apply report.
    private(set) var sendCalls = 0
    private(set) var messagesSent = 0
    private(set) var receiveCalls = 0

    /// Bounds of one send: below the socket send buffer, and few enough acks (each one
    /// costs roughly 1 KiB of receive-buffer accounting) to never overflow the receive buffer.
    private static let chunkBytes = 128 * 1024
    private static let chunkMessages = 1024
    /// Requests per send, bounded by the receive buffer the kernel actually granted (without
    /// CAP_NET_ADMIN in the initial user namespace the FORCE options fail and it stays small).
    private var ackWindow = NetlinkSocket.chunkMessages

    /// Opens the socket in the calling thread's network namespace; it stays bound to it.
    init() throws(HAVPNError) {
        // Large buffers: a dump of 10,000 routes and the acks of a big batch must fit.
        socket = try LibnlSocket(receiveBuffer: 32 << 20, sendBuffer: 4 << 20, what: "rtnetlink")
        let granted = Int(socket.grantedReceiveBuffer)
        if granted > 0 { ackWindow = max(16, min(Self.chunkMessages, granted / 2048)) }
        // Acks without the echoed request, but with the kernel's error text.
        socket.setOption(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        socket.setOption(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        // Never hang forever on a lost ack.
        socket.setReceiveTimeout(seconds: 30)
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
        var bytes = batch.bytes
        var first = 0
        while first < batch.count {
            var last = first
            while last + 1 < batch.count, last + 1 - first < ackWindow,
                batch.messageRange(last + 1).upperBound - batch.messageRange(first).lowerBound <= Self.chunkBytes
            {
                last += 1
            }
            let range = batch.messageRange(first).lowerBound..<batch.messageRange(last).upperBound
            for index in first..<last {
                Self.setAcknowledgeFlag(false, &bytes, at: batch.messageRange(index).lowerBound)
            }
            // The wait below ends at the last request's answer, so it must ask for one.
            Self.setAcknowledgeFlag(true, &bytes, at: batch.messageRange(last).lowerBound)
            try send(bytes, range)
            messagesSent += last - first + 1
            while results[last] == nil {
                try receive { (message: NetlinkMessage) in
                    let index = Int(message.sequence &- batch.firstSequence)
                    guard index >= first, index <= last else { return }  // stale, from an aborted call
                    if message.type == Int(NLMSG_ERROR) {
                        results[index] = Self.acknowledgement(message)
                    } else if message.type != Int(NLMSG_DONE) {
                        onReply?(index, message)
                    }
                }
            }
            for index in first..<last where results[index] == nil { results[index] = NetlinkAcknowledgement(errno: 0) }
            first = last + 1
        }
        return results.map { $0! }
    }

    /// Dumps all objects of one kind (`type` = RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE) and calls
    /// `body` for each. Returns false when the kernel flagged the dump as interrupted by a
    /// concurrent change (NLM_F_DUMP_INTR); the caller then starts over.
    func dump<Header: BitwiseCopyable>(
        _ type: Int,
        header: Header,
        _ body: (NetlinkMessage) -> Void
    ) throws(HAVPNError) -> Bool {
        var request = makeBatch()
        request.beginMessage(type: type, flags: Int32(NLM_F_DUMP), acknowledge: false)
        request.appendFixed(header)
        request.endMessage()
        nextSequence = request.firstSequence &+ 1
        try send(request.bytes, request.bytes.indices)
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
        let failure = bytes.withUnsafeBytes { all -> HAVPNError? in
            do throws(HAVPNError) { try socket.send(all.baseAddress! + range.lowerBound, count: range.count) } catch {
                return error
            }
            return nil
        }
        if let failure { throw failure }
        sendCalls += 1
    }

    /// Sets or clears NLM_F_ACK in the header of the message at `offset`: the send decides which
    /// requests ask for an ack, whatever they were built with.
    private static func setAcknowledgeFlag(_ on: Bool, _ bytes: inout [UInt8], at offset: Int) {
        bytes.withUnsafeMutableBytes { raw in
            let at = offset + MemoryLayout<nlmsghdr>.offset(of: \nlmsghdr.nlmsg_flags)!
            let flags = raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)
            let ack = UInt16(NLM_F_ACK)
            raw.storeBytes(of: on ? flags | ack : flags & ~ack, toByteOffset: at, as: UInt16.self)
        }
    }

    /// Receives one datagram (`nl_recv`) and calls `body` for each message in it.
    private func receive(_ body: (NetlinkMessage) -> Void) throws(HAVPNError) {
        receiveCalls += 1
        switch socket.receive() {
        case .datagram(let buffer, let count):
            defer { free(buffer) }
            NetlinkParse.forEachMessage(in: buffer, count: count, body)
        case .timeout:
            throw KernelErrors.error(EAGAIN, "no netlink answer within 30 s", object: nil)
        case .overflow:
            throw KernelErrors.error(ENOBUFS, "netlink receive buffer overflowed; answers were lost", object: nil)
        case .failure(let code):
            throw KernelErrors.error(code, "cannot receive netlink answer", object: nil)
        }
    }

    /// 0 or a positive errno, and the kernel's extended-ack text (NLMSGERR_ATTR_MSG), parsed
    /// with `nla_parse` from the attributes after the nlmsgerr.
    static func acknowledgement(_ message: NetlinkMessage) -> NetlinkAcknowledgement {
        guard let error = message.familyHeader(nlmsgerr.self) else { return .init(errno: EPROTO) }
        var text: String?
        if message.flags & Int32(NLM_F_ACK_TLVS) != 0 {
            // With NETLINK_CAP_ACK only the request's header is echoed (NLM_F_CAPPED).
            var offset = MemoryLayout<nlmsgerr>.size
            if message.flags & Int32(NLM_F_CAPPED) == 0 {
                offset += Int(error.msg.nlmsg_len) - MemoryLayout<nlmsghdr>.size
            }
            // The echoed length is the sender's word: an offset outside this message (found by
            // fuzzing: a length near 2^32 trapped the conversion) means there is no text to read.
            let total = Int(message.header.pointee.nlmsg_len)
            let length =
                (MemoryLayout<nlmsgerr>.size...total).contains(offset)
                ? Int(nlmsg_attrlen(message.header, Int32(offset))) : 0
            if length > 0, let start = nlmsg_attrdata(message.header, Int32(offset)),
                let attributes = NetlinkAttributes(
                    stream: start,
                    length: length,
                    maxType: HAVPN_NLMSGERR_ATTR_MAX,
                    policy: havpn_ack_policy()
                )
            {
                text = attributes.string(Int(NLMSGERR_ATTR_MSG.rawValue))
            }
        }
        return NetlinkAcknowledgement(errno: -error.error, kernelMessage: text)
    }
}
