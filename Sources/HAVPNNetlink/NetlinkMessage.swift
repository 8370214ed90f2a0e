internal import CNetlink
import Glibc

/// Netlink requests built one by one with libnl (`nlmsg_put`, `nla_put*`, `nla_nest_*`), their
/// bytes laid back to back in one buffer, so a whole batch goes to the kernel in a few sends.
/// Message `i` carries sequence number `firstSequence &+ i`, which is how acknowledgements are
/// matched back to the request (and so to the plan action) that caused them.
///
/// libnl's own send helpers send one `nl_msg` per system call; concatenating the finished
/// messages keeps libnl for the encoding and one `sendto` per chunk of requests.
struct NetlinkBatch {
    let firstSequence: UInt32
    private(set) var bytes: [UInt8] = []
    /// Start offset of every finished message.
    private(set) var messageOffsets: [Int] = []
    /// The request being built. Only ever non-nil between `beginMessage` and `endMessage`, so a
    /// copy of the batch (it is a value) never shares it.
    private var openMessage: OpaquePointer?

    /// Room for one request: the largest (a bond with all its options) takes about 150 bytes.
    private static let messageCapacity = 1024

    /// libnl-route's `rtnl_*_build_*_request` allocate their message at libnl's default size, a
    /// page, zeroed: for 10,000 routes that is 40 MB of memset and as many fresh pages. Every
    /// request havpn builds fits `messageCapacity`.
    private static let libnlDefaultSize: Void = nlmsg_set_default_size(messageCapacity)

    init(firstSequence: UInt32) {
        _ = Self.libnlDefaultSize
        self.firstSequence = firstSequence
        bytes.reserveCapacity(4096)
    }

    var count: Int { messageOffsets.count }
    var isEmpty: Bool { messageOffsets.isEmpty && openMessage == nil }

    /// Starts a request; a request asks for an acknowledgement unless it is a dump.
    mutating func beginMessage(type: Int, flags: Int32, acknowledge: Bool = true) {
        precondition(openMessage == nil, "previous netlink message not finished")
        guard let message = nlmsg_alloc_size(Self.messageCapacity) else {
            fatalError("nlmsg_alloc_size: out of memory")
        }
        let allFlags = Int32(NLM_F_REQUEST) | (acknowledge ? Int32(NLM_F_ACK) : 0) | flags
        let sequence = firstSequence &+ UInt32(messageOffsets.count)
        guard nlmsg_put(message, 0, sequence, Int32(type), 0, allFlags) != nil else {
            fatalError("nlmsg_put: no room for a netlink header")
        }
        openMessage = message
    }

    /// Starts a request from a message libnl-route built (`rtnl_*_build_*_request`): it gets
    /// havpn's sequence number and asks for an acknowledgement; `put` may add what libnl-route
    /// does not know, and `endMessage` finishes it like any other.
    mutating func beginMessage(builtBy build: (UnsafeMutablePointer<OpaquePointer?>) -> Int32) {
        precondition(openMessage == nil, "previous netlink message not finished")
        var built: OpaquePointer?
        let result = build(&built)
        guard result >= 0, let message = built else {
            fatalError("libnl-route could not build a request: \(String(cString: nl_geterror(result)))")
        }
        let header = nlmsg_hdr(message)!
        header.pointee.nlmsg_seq = firstSequence &+ UInt32(messageOffsets.count)
        header.pointee.nlmsg_pid = 0
        header.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST) | UInt16(NLM_F_ACK)
        openMessage = message
    }

    /// Copies the finished request into the batch and frees libnl's message.
    mutating func endMessage() {
        guard let message = openMessage else { preconditionFailure("no open netlink message") }
        let header = nlmsg_hdr(message)!
        messageOffsets.append(bytes.count)
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: header, count: Int(header.pointee.nlmsg_len)))
        nlmsg_free(message)
        openMessage = nil
    }

    /// Appends a fixed family header (ifinfomsg, ifaddrmsg, rtmsg), padded to 4 bytes.
    mutating func appendFixed<T: BitwiseCopyable>(_ value: T) {
        var value = value
        let result = withUnsafeMutableBytes(of: &value) {
            nlmsg_append(current, $0.baseAddress, $0.count, Int32(NLMSG_ALIGNTO))
        }
        check(result, "family header")
    }

    mutating func put(_ type: Int, u8 value: UInt8) {
        check(nla_put_u8(current, Int32(type), value), "attribute \(type)")
    }

    mutating func put(_ type: Int, u32 value: UInt32) {
        check(nla_put_u32(current, Int32(type), value), "attribute \(type)")
    }

    /// A NUL-terminated string attribute.
    mutating func put(_ type: Int, string value: String) {
        check(nla_put_string(current, Int32(type), value), "attribute \(type)")
    }

    /// Starts a nested attribute; pass the result to `endNested`.
    mutating func beginNested(_ type: Int) -> UnsafeMutablePointer<nlattr> {
        guard let start = nla_nest_start(current, Int32(type)) else { fatalError("nla_nest_start: message full") }
        return start
    }

    mutating func endNested(_ start: UnsafeMutablePointer<nlattr>) {
        check(nla_nest_end(current, start), "nested attribute")
    }

    /// Byte range of message `index`.
    func messageRange(_ index: Int) -> Range<Int> {
        let end = index + 1 < messageOffsets.count ? messageOffsets[index + 1] : bytes.count
        return messageOffsets[index]..<end
    }

    private var current: OpaquePointer {
        guard let openMessage else { preconditionFailure("no open netlink message") }
        return openMessage
    }

    /// libnl fails only when the message is full: `messageCapacity` is too small, a bug.
    private func check(_ result: Int32, _ what: @autoclosure () -> String) {
        if result < 0 { fatalError("libnl could not add \(what()): \(String(cString: nl_geterror(result)))") }
    }
}

/// One received netlink message, still in libnl's receive buffer: valid only inside the callback
/// that receives it.
struct NetlinkMessage {
    let header: UnsafeMutablePointer<nlmsghdr>

    var type: Int { Int(header.pointee.nlmsg_type) }
    var flags: Int32 { Int32(header.pointee.nlmsg_flags) }
    var sequence: UInt32 { header.pointee.nlmsg_seq }

    /// The family header (ifinfomsg, ifaddrmsg, rtmsg, nlmsgerr), when the message is long enough.
    func familyHeader<T>(_: T.Type) -> T? {
        guard nlmsg_valid_hdr(header, Int32(MemoryLayout<T>.size)) != 0 else { return nil }
        return UnsafeRawPointer(nlmsg_data(header)!).loadUnaligned(as: T.self)
    }

    /// The attributes after the family header `T`, checked against `policy` by `nlmsg_parse`;
    /// nil when the message is too short or an attribute breaks the policy.
    func attributes<T>(after _: T.Type, maxType: Int, policy: UnsafePointer<nla_policy>) -> NetlinkAttributes? {
        var table = NetlinkAttributes(maxType: maxType)
        let result = table.slots.withUnsafeMutableBufferPointer {
            nlmsg_parse(header, Int32(MemoryLayout<T>.size), $0.baseAddress, Int32(maxType), policy)
        }
        return result == 0 ? table : nil
    }
}

/// Attributes by type, as `nlmsg_parse` / `nla_parse` left them (the last of a repeated type
/// wins). The pointers point into the received buffer.
struct NetlinkAttributes {
    fileprivate var slots: [UnsafeMutablePointer<nlattr>?]

    fileprivate init(maxType: Int) { slots = Array(repeating: nil, count: maxType + 1) }

    /// Parses an attribute stream (e.g. after an nlmsgerr) against `policy`.
    init?(stream start: UnsafeMutablePointer<nlattr>, length: Int, maxType: Int, policy: UnsafePointer<nla_policy>) {
        self.init(maxType: maxType)
        let result = slots.withUnsafeMutableBufferPointer {
            nla_parse($0.baseAddress, Int32(maxType), start, Int32(length), policy)
        }
        guard result == 0 else { return nil }
    }

    private func attribute(_ type: Int) -> UnsafeMutablePointer<nlattr>? {
        type < slots.count ? slots[type] : nil
    }

    func has(_ type: Int) -> Bool { attribute(type) != nil }
    func u8(_ type: Int) -> UInt8? { attribute(type).map { nla_get_u8($0) } }
    func u32(_ type: Int) -> UInt32? { attribute(type).map { nla_get_u32($0) } }
    /// A string attribute (the policy checked its terminating NUL).
    func string(_ type: Int) -> String? { attribute(type).map { String(cString: nla_get_string($0)) } }
    func bytes(_ type: Int) -> [UInt8]? { raw(type).map { Array($0) } }

    /// The attribute's payload, valid as long as the received buffer.
    func raw(_ type: Int) -> UnsafeRawBufferPointer? {
        attribute(type).map { UnsafeRawBufferPointer(start: nla_data($0), count: Int(nla_len($0))) }
    }

    /// A nested attribute's attributes, parsed with `nla_parse_nested` against `policy`.
    func nested(_ type: Int, maxType: Int, policy: UnsafePointer<nla_policy>) -> NetlinkAttributes? {
        guard let outer = attribute(type) else { return nil }
        var inner = NetlinkAttributes(maxType: maxType)
        let result = inner.slots.withUnsafeMutableBufferPointer {
            nla_parse_nested($0.baseAddress, Int32(maxType), outer, policy)
        }
        return result == 0 ? inner : nil
    }
}

enum NetlinkParse {
    /// Calls `body` for every complete message in `buffer` (one datagram from the kernel), walking
    /// it with libnl's `nlmsg_ok` / `nlmsg_next`. `buffer` must be 4-byte aligned.
    static func forEachMessage<E: Error>(
        in buffer: UnsafeMutableRawPointer,
        count: Int,
        _ body: (NetlinkMessage) throws(E) -> Void
    ) throws(E) {
        var remaining = Int32(clamping: count)
        var header = buffer.assumingMemoryBound(to: nlmsghdr.self)
        while nlmsg_ok(header, remaining) != 0 {
            try body(NetlinkMessage(header: header))
            header = nlmsg_next(header, &remaining)
        }
    }

    /// Copies `bytes` to an aligned buffer first: for input that did not come from `nl_recv`.
    static func forEachMessage(in bytes: ArraySlice<UInt8>, _ body: (NetlinkMessage) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        defer { buffer.deallocate() }
        buffer.copyBytes(from: bytes)
        forEachMessage(in: buffer.baseAddress!, count: bytes.count, body)
    }
}
