import Foundation
import Glibc
import HAVPNService
import Testing

/// A kubelet-style ConfigMap volume: `..<ts>/topology.yaml`, `..data -> ..<ts>`,
/// `topology.yaml -> ..data/topology.yaml`; updates swap `..data` atomically.
private struct ConfigMapVolume {
    let directory: URL
    var generation = 0

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("havpn-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var topologyPath: String { directory.appendingPathComponent("topology.yaml").path }

    mutating func publish(_ content: String) throws {
        generation += 1
        let timestamped = "..2026_\(generation)"
        let dataDirectory = directory.appendingPathComponent(timestamped)
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: false)
        try content.write(to: dataDirectory.appendingPathComponent("topology.yaml"), atomically: false, encoding: .utf8)
        let temporary = directory.appendingPathComponent("..data_tmp").path
        try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: timestamped)
        guard rename(temporary, directory.appendingPathComponent("..data").path) == 0 else { throw POSIXError(.EIO) }
        if generation == 1 {
            try FileManager.default.createSymbolicLink(
                atPath: topologyPath,
                withDestinationPath: "..data/topology.yaml"
            )
        }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

private enum WatcherEvent: Sendable {
    case changed(ConfigSnapshot)
    case readError(String)
    case deadline(Int)
}

/// One consumer of the watcher's events; waits end at a deadline (a timer event on the same stream).
private struct Inbox {
    let sink: AsyncStream<WatcherEvent>.Continuation
    var iterator: AsyncStream<WatcherEvent>.Iterator
    var waits = 0

    mutating func next(within timeout: Duration) async -> WatcherEvent? {
        waits += 1
        let id = waits
        let sink = self.sink
        let timer = Task {
            try await Task.sleep(for: timeout)
            sink.yield(.deadline(id))
        }
        defer { timer.cancel() }
        while let event = await iterator.next() {
            switch event {
            case .deadline(let d): if d == id { return nil }
            default: return event
            }
        }
        return nil
    }
}

/// Runs a watcher on `volume`; its reports arrive in the returned inbox.
private func watch(_ volume: ConfigMapVolume, poll: Duration) -> (Inbox, Task<Void, any Error>) {
    let (events, sink) = AsyncStream.makeStream(of: WatcherEvent.self)
    let watcher = ConfigWatcher(
        path: volume.topologyPath,
        pollInterval: poll,
        logger: Fixture.silentLogger,
        onChange: { sink.yield(.changed($0)) },
        onReadError: { sink.yield(.readError($0)) }
    )
    return (Inbox(sink: sink, iterator: events.makeAsyncIterator()), Task { try await watcher.run() })
}

@Suite struct ConfigWatcherTests {
    /// With a poll interval of an hour, only the inotify watch on the directory can report the
    /// swap of `..data` within the deadline.
    @Test func directoryWatchReportsASwapWithoutWaitingForThePoll() async throws {
        var volume = try ConfigMapVolume()
        defer { volume.remove() }
        try volume.publish("apiVersion: havpn/v1\nservers: 2\n")
        let started = watch(volume, poll: .seconds(3600))
        var inbox = started.0
        let watching = started.1
        defer { watching.cancel() }
        guard case .changed? = await inbox.next(within: .seconds(5)) else {
            Issue.record("no initial change")
            return
        }
        try volume.publish("apiVersion: havpn/v1\nservers: 3\n")
        guard case .changed(let swapped)? = await inbox.next(within: .seconds(2)) else {
            Issue.record("the swap of ..data was not reported before the next poll")
            return
        }
        #expect(String(decoding: swapped.content, as: UTF8.self) == "apiVersion: havpn/v1\nservers: 3\n")
    }

    @Test func reportsTheInitialFileAndEverySwapOfTheDataSymlink() async throws {
        var volume = try ConfigMapVolume()
        defer { volume.remove() }
        try volume.publish("apiVersion: havpn/v1\nservers: 2\n")

        let started = watch(volume, poll: .milliseconds(20))
        var inbox = started.0
        let watching = started.1
        defer { watching.cancel() }

        guard case .changed(let initial)? = await inbox.next(within: .seconds(5)) else {
            Issue.record("no initial change")
            return
        }
        #expect(String(decoding: initial.content, as: UTF8.self) == "apiVersion: havpn/v1\nservers: 2\n")
        #expect(initial.resolvedPath.hasSuffix("/..2026_1/topology.yaml"))

        let quiet = await inbox.next(within: .milliseconds(300))
        #expect(quiet == nil, "a change was reported though nothing changed: \(String(describing: quiet))")

        try volume.publish("apiVersion: havpn/v1\nservers: 3\n")
        guard case .changed(let swapped)? = await inbox.next(within: .seconds(5)) else {
            Issue.record("the swap of ..data was not reported")
            return
        }
        #expect(String(decoding: swapped.content, as: UTF8.self) == "apiVersion: havpn/v1\nservers: 3\n")
        #expect(swapped.resolvedPath.hasSuffix("/..2026_2/topology.yaml"))

        #expect(await inbox.next(within: .milliseconds(300)) == nil)

        try FileManager.default.removeItem(atPath: volume.directory.appendingPathComponent("..data").path)
        guard case .readError(let message)? = await inbox.next(within: .seconds(5)) else {
            Issue.record("an unreadable file was not reported")
            return
        }
        #expect(message.contains("topology.yaml"))
        let repeated = await inbox.next(within: .milliseconds(200))
        #expect(repeated == nil, "reported again: \(String(describing: repeated)), first: \(message)")

        watching.cancel()
        let (stopped, stoppedSink) = AsyncStream.makeStream(of: Bool.self)
        Task {
            _ = await watching.result
            stoppedSink.yield(true)
        }
        #expect(await first(stopped, within: .seconds(5)) == true, "the watcher did not stop when cancelled")
    }

    @Test func readResolvesSymlinks() throws {
        var volume = try ConfigMapVolume()
        defer { volume.remove() }
        try volume.publish("x: 1\n")
        let snapshot = try ConfigWatcher.read(volume.topologyPath).get()
        #expect(snapshot.content == Array("x: 1\n".utf8))
        #expect(
            snapshot.resolvedPath
                == volume.directory.resolvingSymlinksInPath().appendingPathComponent("..2026_1/topology.yaml").path
        )
        #expect(throws: (any Error).self) {
            try ConfigWatcher.read(volume.directory.appendingPathComponent("absent").path).get()
        }
    }
}
