internal import CNetlink

/// Netlink requests built back to back in one byte buffer, so a whole batch goes to the kernel
/// in a few `send` calls. Message `i` carries sequence number `firstSequence &+ i`, which is how
/// acknowledgements are matched back to the request (and so to the plan action) that caused them.
struct NetlinkBatch {
    let firstSequence: UInt32
    private(set) var bytes: [UInt8] = []
    /// Start offset of every finished message.
    private(set) var messageOffsets: [Int] = []
    private var openMessage: Int?

    init(firstSequence: UInt32) {
        self.firstSequence = firstSequence
        bytes.reserveCapacity(4096)
    }

    var count: Int { messageOffsets.count }
    var isEmpty: Bool { messageOffsets.isEmpty && openMessage == nil }

    /// Starts a request; every request asks for an acknowledgement.
    mutating func beginMessage(type: Int, flags: Int32) {
        precondition(openMessage == nil, "previous netlink message not finished")
        openMessage = bytes.count
        var header = nlmsghdr()
        header.nlmsg_len = 0  // patched in endMessage
        header.nlmsg_type = UInt16(type)
        header.nlmsg_flags = UInt16(Int32(NLM_F_REQUEST) | Int32(NLM_F_ACK) | flags)
        header.nlmsg_seq = firstSequence &+ UInt32(messageOffsets.count)
        header.nlmsg_pid = 0
        appendFixed(header)
    }

    mutating func endMessage() {
        guard let start = openMessage else { preconditionFailure("no open netlink message") }
        patchLength(at: start)
        messageOffsets.append(start)
        openMessage = nil
    }

    /// Appends a fixed family header (ifinfomsg, ifaddrmsg, rtmsg), padded to 4 bytes.
    mutating func appendFixed<T>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
        pad()
    }

    mutating func put(_ type: Int, _ payload: some Collection<UInt8>) {
        var attribute = nlattr()
        attribute.nla_len = UInt16(MemoryLayout<nlattr>.size + payload.count)
        attribute.nla_type = UInt16(type)
        withUnsafeBytes(of: attribute) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func put(_ type: Int, u8 value: UInt8) { put(type, CollectionOfOne(value)) }

    mutating func put(_ type: Int, u32 value: UInt32) {
        withUnsafeBytes(of: value) { put(type, Array($0)) }
    }

    /// A NUL-terminated string attribute.
    mutating func put(_ type: Int, string value: String) {
        put(type, Array(value.utf8) + [0])
    }

    /// Starts a nested attribute; pass the result to `endNested`.
    mutating func beginNested(_ type: Int) -> Int {
        let start = bytes.count
        var attribute = nlattr()
        attribute.nla_type = UInt16(type) | UInt16(NLA_F_NESTED)
        withUnsafeBytes(of: attribute) { bytes.append(contentsOf: $0) }
        return start
    }

    mutating func endNested(_ start: Int) {
        let length = UInt16(bytes.count - start)
        withUnsafeBytes(of: length) { bytes.replaceSubrange(start..<start + 2, with: $0) }
    }

    /// Byte range of message `index`.
    func messageRange(_ index: Int) -> Range<Int> {
        let end = index + 1 < messageOffsets.count ? messageOffsets[index + 1] : bytes.count
        return messageOffsets[index]..<end
    }

    private mutating func patchLength(at start: Int) {
        let length = UInt32(bytes.count - start)
        withUnsafeBytes(of: length) { bytes.replaceSubrange(start..<start + 4, with: $0) }
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
}

/// One received netlink message; `payload` is valid only inside the callback that receives it.
struct NetlinkMessage {
    var type: Int
    var flags: Int32
    var sequence: UInt32
    /// Everything after the nlmsghdr.
    var payload: UnsafeRawBufferPointer
}

enum NetlinkParse {
    static let headerSize = MemoryLayout<nlmsghdr>.size
    static let attributeHeaderSize = MemoryLayout<nlattr>.size

    static func align(_ n: Int) -> Int { (n + 3) & ~3 }

    /// Calls `body` for every complete message in `buffer` (one datagram from the kernel).
    static func forEachMessage<E: Error>(
        in buffer: UnsafeRawBufferPointer,
        _ body: (NetlinkMessage) throws(E) -> Void
    ) throws(E) {
        var offset = 0
        while offset + headerSize <= buffer.count {
            let header = buffer.loadUnaligned(fromByteOffset: offset, as: nlmsghdr.self)
            let length = Int(header.nlmsg_len)
            guard length >= headerSize, offset + length <= buffer.count else { return }
            let payload = UnsafeRawBufferPointer(rebasing: buffer[(offset + headerSize)..<(offset + length)])
            try body(
                NetlinkMessage(
                    type: Int(header.nlmsg_type), flags: Int32(header.nlmsg_flags),
                    sequence: header.nlmsg_seq, payload: payload))
            offset += align(length)
        }
    }

    /// Calls `body` with (type without flag bits, value) for each attribute in `buffer`.
    static func forEachAttribute(
        in buffer: UnsafeRawBufferPointer,
        _ body: (Int, UnsafeRawBufferPointer) -> Void
    ) {
        var offset = 0
        while offset + attributeHeaderSize <= buffer.count {
            let attribute = buffer.loadUnaligned(fromByteOffset: offset, as: nlattr.self)
            let length = Int(attribute.nla_len)
            guard length >= attributeHeaderSize, offset + length <= buffer.count else { return }
            let type = Int(attribute.nla_type) & 0x3fff  // NLA_TYPE_MASK: without NLA_F_NESTED and NLA_F_NET_BYTEORDER
            body(type, UnsafeRawBufferPointer(rebasing: buffer[(offset + attributeHeaderSize)..<(offset + length)]))
            offset += align(length)
        }
    }

    /// The attributes after a fixed family header of type `T`.
    static func attributes<T>(after _: T.Type, in payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let start = align(MemoryLayout<T>.size)
        guard payload.count >= start else { return UnsafeRawBufferPointer(rebasing: payload[0..<0]) }
        return UnsafeRawBufferPointer(rebasing: payload[start...])
    }
}

extension UnsafeRawBufferPointer {
    var netlinkU8: UInt8? { count >= 1 ? self[0] : nil }
    var netlinkU32: UInt32? { count >= 4 ? loadUnaligned(as: UInt32.self) : nil }
    /// A string attribute, without its terminating NUL.
    var netlinkString: String {
        let bytes = prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}
