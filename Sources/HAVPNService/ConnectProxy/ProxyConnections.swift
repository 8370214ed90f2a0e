import NIOCore
import Synchronization

/// The proxy's open connections and tunnel slots, shared by every event loop.
///
/// Every accepted connection is registered until it closes, so shutdown can close them all; a slot is
/// taken when a request is judged permissible and given back when both channels of its tunnel are closed.
final class ProxyConnections: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var tunnels = 0
        /// Connections of the splice relay (plain proxy), which are no NIO channels.
        var raw = 0
        var closing = false
    }

    let maxTunnels: Int
    private let state = Mutex(State())
    private let metrics: ConnectProxyMetrics

    init(maxTunnels: Int, metrics: ConnectProxyMetrics) {
        self.maxTunnels = maxTunnels
        self.metrics = metrics
    }

    /// Tracks `channel` until it closes; false (and the channel is to be closed) once shutdown began.
    func register(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let accepted = state.withLock { state in
            guard !state.closing else { return false }
            state.channels[id] = channel
            return true
        }
        guard accepted else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.channels.removeValue(forKey: id) }
        }
        return true
    }

    /// Counts a connection the splice relay accepted; false (and it is to be closed) once shutdown began.
    func admitRaw() -> Bool {
        state.withLock { state in
            guard !state.closing else { return false }
            state.raw += 1
            return true
        }
    }

    func leaveRaw() { state.withLock { $0.raw -= 1 } }

    /// Takes a tunnel slot, or returns false when `maxTunnels` are open.
    func acquireTunnel() -> Bool {
        let open: Int? = state.withLock { state in
            guard state.tunnels < maxTunnels else { return nil }
            state.tunnels += 1
            return state.tunnels
        }
        guard let open else { return false }
        metrics.openTunnels.record(open)
        return true
    }

    func releaseTunnel() {
        let open = state.withLock { state in
            state.tunnels -= 1
            return state.tunnels
        }
        metrics.openTunnels.record(open)
    }

    var openTunnels: Int { state.withLock { $0.tunnels } }
    var openConnections: Int { state.withLock { $0.channels.count + $0.raw } }

    /// Refuses new connections and closes the open ones.
    func closeAll() {
        let channels = state.withLock { state in
            state.closing = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
