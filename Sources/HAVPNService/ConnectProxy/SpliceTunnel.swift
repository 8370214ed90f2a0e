import CSplice
import Glibc
import HAVPNControl
import NIOCore

/// A connection's phases on the relay thread: the same rules as ``ConnectHeadHandler`` (head bounded in
/// size and time, the policy decides before anything is dialled, the tunnel cap, connect timeout,
/// refusals answered and drained), then the splice relay (``SpliceDirection`` each way, half-close
/// passed on, idle timeout).
extension SpliceLoop {
    func handle(_ connection: SpliceConnection, isClient: Bool, events: UInt32) {
        let readable = events & UInt32(CSPLICE_EPOLLIN | CSPLICE_EPOLLHUP | CSPLICE_EPOLLERR) != 0
        let writable = events & UInt32(CSPLICE_EPOLLOUT | CSPLICE_EPOLLHUP | CSPLICE_EPOLLERR) != 0
        switch connection.phase {
        case .head:
            if isClient && readable { readHead(connection) }
        case .dialing(let target, let started):
            if !isClient && writable { finishDial(connection, target: target, started: started) }
        case .relaying:
            // Readable feeds the direction this socket is the source of, writable the one it is the
            // destination of; a hang-up or error runs both (they find out what happened).
            relay(connection, toTarget: isClient ? readable : writable, toClient: isClient ? writable : readable)
        case .answering:
            guard isClient else { return }
            if writable { answerMore(connection) }
            if readable, case .answering = connection.phase { drain(connection) }
        }
    }

    func expire(_ connection: SpliceConnection) {
        switch connection.phase {
        case .head: refuse(.headTimeout, connection)
        case .dialing(let target, let started): dialFailed(connection, .timeout, target: target, started: started)
        case .relaying, .answering: close(connection)  // idle tunnel, or linger over
        }
    }

    // MARK: - Head

    private func readHead(_ connection: SpliceConnection) {
        let received = scratch.withUnsafeMutableBytes { Glibc.read(connection.client, $0.baseAddress, $0.count) }
        if received < 0 {
            if errno != EAGAIN && errno != EINTR { close(connection) }
            return
        }
        // The client stopped sending before its head was complete.
        guard received > 0 else { return refuse(.malformedHead, connection) }
        connection.head += scratch[0..<received]
        switch settings.policy.examine(connection.head) {
        case .incomplete: return
        case .refuse(let reason): refuse(reason, connection)
        case .relay(let target, let headLength):
            connection.head.removeFirst(headLength)  // what is left is the client's first tunnel bytes
            guard settings.connections.acquireTunnel() else { return refuse(.tunnelLimit, connection) }
            connection.holdsTunnel = true
            dial(connection, target: target)
        }
    }

    // MARK: - Dialling

    private func dial(_ connection: SpliceConnection, target: ConnectTarget) {
        let started = now
        guard let address = try? SocketAddress(ipAddress: target.address.description, port: target.port) else {
            return dialFailed(connection, .refused, target: target, started: started)
        }
        let fd = csplice_tcp_socket(Int32(address.protocol.rawValue))
        guard fd >= 0 else { return dialFailed(connection, .refused, target: target, started: started) }
        opened(1)
        connection.target = fd
        byDescriptor[fd] = connection
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = withSockaddr(address) { Glibc.connect(fd, $0, $1) } ?? -1
        if result != 0 && errno != EINPROGRESS {
            return dialFailed(connection, .refused, target: target, started: started)
        }
        // A target on this host completes the handshake within connect(2); asking again says so (0, or
        // EISCONN) and saves a round through epoll. Across a network it says EALREADY, and epoll reports.
        if result == 0 || withSockaddr(address, { Glibc.connect(fd, $0, $1) }) == 0 || errno == EISCONN {
            return finishDial(connection, target: target, started: started)
        }
        if errno != EALREADY && errno != EINPROGRESS {
            return dialFailed(connection, .refused, target: target, started: started)
        }
        // Until the target answers, the client's further bytes stay in its socket.
        connection.phase = .dialing(target, started: started)
        connection.deadline = now + settings.timings.connect.nanoseconds.asUInt64
        schedule(connection.deadline)
        register(connection, client: 0, target: UInt32(CSPLICE_EPOLLOUT))
    }

    private func finishDial(_ connection: SpliceConnection, target: ConnectTarget, started: UInt64) {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(connection.target, SOL_SOCKET, SO_ERROR, &error, &length) != 0 { error = errno }
        guard error == 0 else { return dialFailed(connection, .refused, target: target, started: started) }
        settings.metrics.connectDuration.recordNanoseconds(Int64(clamping: now - started))
        guard connection.toTarget.open() else { return cannotRelay(connection, target: target) }
        opened(2)
        guard connection.toClient.open() else { return cannotRelay(connection, target: target) }
        opened(2)
        connection.toClient.pending = ConnectResponse.established
        connection.toTarget.pending = connection.head
        if !connection.head.isEmpty { settings.metrics.bytesToTarget.increment(by: connection.head.count) }
        connection.head = []
        settings.metrics.tunnels.increment()
        connection.phase = .relaying
        connection.lastActivity = now
        schedule(now + settings.timings.idle.nanoseconds.asUInt64)
        relay(connection, toTarget: true, toClient: true)
    }

    private func cannotRelay(_ connection: SpliceConnection, target: ConnectTarget) {
        settings.logger.warning(
            "cannot set up a tunnel",
            metadata: ["target": "\(target)", "error": "pipe: errno \(errno)"]
        )
        close(connection)
    }

    private func dialFailed(
        _ connection: SpliceConnection,
        _ failure: ConnectFailure,
        target: ConnectTarget,
        started: UInt64
    ) {
        settings.metrics.connectDuration.recordNanoseconds(Int64(clamping: now - started))
        settings.metrics.failed(failure)
        settings.logger.debug(
            "CONNECT target unreachable",
            metadata: ["target": "\(target)", "failure": "\(failure.rawValue)"]
        )
        if connection.target >= 0 {
            register(connection, client: connection.clientEvents, target: 0)
            byDescriptor[connection.target] = nil
            discard(connection.target)
            connection.target = -1
        }
        connection.holdsTunnel = false
        settings.connections.releaseTunnel()
        answer(ConnectResponse.failure(failure), connection)
    }

    // MARK: - Relaying

    /// Pumps the given directions, then updates what epoll waits for; closes the tunnel after an error,
    /// or once both directions ended.
    private func relay(_ connection: SpliceConnection, toTarget pumpToTarget: Bool, toClient pumpToClient: Bool) {
        var moved = 0
        for toTarget in [true, false] where toTarget ? pumpToTarget : pumpToClient {
            let outcome =
                toTarget
                ? connection.toTarget.pump(from: connection.client, to: connection.target)
                : connection.toClient.pump(from: connection.target, to: connection.client)
            switch outcome {
            case .failed:
                return close(connection)
            case .progressed(let spliced, let read):
                moved += spliced + read
                guard spliced > 0 else { continue }
                proxy.splicedBytes.add(spliced, ordering: .relaxed)
                (toTarget ? settings.metrics.bytesToTarget : settings.metrics.bytesToClient).increment(by: spliced)
            }
        }
        if moved > 0 { connection.lastActivity = now }
        if connection.toTarget.finished && connection.toClient.finished { return close(connection) }
        let (inbound, outbound) = (UInt32(CSPLICE_EPOLLIN), UInt32(CSPLICE_EPOLLOUT))
        register(
            connection,
            client: (connection.toTarget.wantsRead ? inbound : 0) | (connection.toClient.wantsWrite ? outbound : 0),
            target: (connection.toClient.wantsRead ? inbound : 0) | (connection.toTarget.wantsWrite ? outbound : 0)
        )
    }

    // MARK: - Refusing

    private func refuse(_ reason: ConnectRefusal, _ connection: SpliceConnection) {
        settings.metrics.refused(reason)
        settings.logger.debug("CONNECT refused", metadata: ["reason": "\(reason.rawValue)"])
        answer(ConnectResponse.refusal(reason), connection)
    }

    /// Writes `response`, shuts the output (the client reads the answer, then end of stream), drains the
    /// input until the client closes or `linger` ends, then closes.
    private func answer(_ response: [UInt8], _ connection: SpliceConnection) {
        connection.phase = .answering
        connection.toClient.pending = response
        connection.toClient.endSource()
        connection.deadline = now + settings.timings.linger.nanoseconds.asUInt64
        schedule(connection.deadline)
        answerMore(connection)
        if case .answering = connection.phase { drain(connection) }
    }

    private func answerMore(_ connection: SpliceConnection) {
        guard case .progressed = connection.toClient.pump(from: -1, to: connection.client) else {
            return close(connection)
        }
        let outbound = connection.toClient.wantsWrite ? UInt32(CSPLICE_EPOLLOUT) : 0
        register(connection, client: UInt32(CSPLICE_EPOLLIN) | outbound, target: 0)
    }

    private func drain(_ connection: SpliceConnection) {
        while true {
            let received = scratch.withUnsafeMutableBytes { Glibc.read(connection.client, $0.baseAddress, $0.count) }
            if received > 0 { continue }
            if received < 0 && errno == EINTR { continue }
            if received < 0 && errno == EAGAIN { return }
            return close(connection)  // end of stream (or an error): the client has what it needs
        }
    }
}
