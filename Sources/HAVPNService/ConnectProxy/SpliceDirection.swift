import CSplice
import Glibc

/// One direction of a plain tunnel: bytes move from `source` into a pipe and from the pipe into
/// `destination` with splice(2), so they never enter user space.
///
/// Only an empty pipe is refilled, so `EAGAIN` from a read always means "source empty" (a full pipe
/// would report it too) and `inPipe` is exactly what the destination still owes. Bytes the proxy holds
/// in user space (the `200` answer, request bytes read with the head) go out first, through `pending`.
struct SpliceDirection {
    private(set) var pipeRead: Int32 = -1
    private(set) var pipeWrite: Int32 = -1
    private(set) var inPipe = 0
    private var pipeSize = 0
    private var grown = false
    var pending: [UInt8] = []
    private(set) var sourceEnded = false
    /// The destination's output was shut down after the source ended and everything was delivered.
    private(set) var finished = false

    /// A busy direction's pipe grows to this once (fewer wake-ups per byte); an idle one keeps the
    /// kernel's default, since pipe pages count against a per-user limit (`fs.pipe-user-pages-soft`).
    static let grownPipeSize: Int32 = 1 << 20
    /// Most reads per ``pump(from:to:)``: a stream whose both sides keep up must not starve the other
    /// tunnels; level-triggered epoll reports its source again.
    static let readsPerPump = 8

    /// Opens the pipe; false (and nothing to close) if the process is out of descriptors.
    mutating func open() -> Bool {
        var ends: [Int32] = [-1, -1]
        guard csplice_pipe(&ends) == 0 else { return false }
        (pipeRead, pipeWrite) = (ends[0], ends[1])
        pipeSize = Int(csplice_pipe_size(pipeRead))
        if pipeSize <= 0 { pipeSize = 65536 }
        return true
    }

    /// Stops reading (a refusal answers, then shuts the output down).
    mutating func endSource() { sourceEnded = true }

    /// The pipe's descriptors, for closing.
    var descriptors: [Int32] { [pipeRead, pipeWrite].filter { $0 >= 0 } }

    /// Waiting for the source: nothing is owed to the destination.
    var wantsRead: Bool { !sourceEnded && inPipe == 0 && pending.isEmpty }
    /// Waiting for the destination to take more.
    var wantsWrite: Bool { inPipe > 0 || !pending.isEmpty }

    enum Outcome {
        /// Moved `spliced` bytes through the pipe and `read` bytes out of the source (either may be 0).
        case progressed(spliced: Int, read: Int)
        /// A reset or other error: the tunnel goes.
        case failed
    }

    /// Moves what can move now without blocking.
    mutating func pump(from source: Int32, to destination: Int32) -> Outcome {
        var spliced = 0
        var read = 0
        var reads = 0
        while true {
            while !pending.isEmpty {
                let sent = pending.withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent > 0 {
                    pending.removeFirst(sent)
                } else if sent < 0 && errno == EINTR {
                    continue
                } else if sent < 0 && errno == EAGAIN {
                    return .progressed(spliced: spliced, read: read)
                } else {
                    return .failed
                }
            }
            if inPipe > 0 {
                let moved = csplice_splice(pipeRead, destination, inPipe)
                if moved > 0 {
                    inPipe -= moved
                    spliced += moved
                    continue
                }
                if moved < 0 && errno == EINTR { continue }
                if moved < 0 && errno == EAGAIN { return .progressed(spliced: spliced, read: read) }
                return .failed
            }
            if sourceEnded {
                if !finished {
                    finished = true
                    // ENOTCONN: the destination is gone already; the other direction's error closes the tunnel.
                    _ = shutdown(destination, Int32(SHUT_WR))
                }
                return .progressed(spliced: spliced, read: read)
            }
            guard pipeRead >= 0, reads < Self.readsPerPump else { return .progressed(spliced: spliced, read: read) }
            reads += 1
            let received = csplice_splice(source, pipeWrite, pipeSize)
            if received > 0 {
                inPipe = received
                read += received
                if received >= pipeSize { grow() }
            } else if received == 0 {
                sourceEnded = true
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN {
                return .progressed(spliced: spliced, read: read)
            } else {
                return .failed
            }
        }
    }

    private mutating func grow() {
        guard !grown else { return }
        grown = true
        let size = csplice_pipe_resize(pipeWrite, Self.grownPipeSize)
        if size > 0 { pipeSize = Int(size) }  // EPERM over the per-user limit: the pipe keeps its size
    }
}
