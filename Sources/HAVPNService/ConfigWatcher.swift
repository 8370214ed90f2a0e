import FoundationEssentials
import HAVPNModel
import HAVPNNetlink
import Logging
import ServiceLifecycle
import UnixSignals

/// The bytes of the topology file and the path they were read from after resolving symlinks.
public struct ConfigSnapshot: Sendable, Equatable {
    public var resolvedPath: String
    public var content: [UInt8]

    public init(resolvedPath: String, content: [UInt8]) {
        self.resolvedPath = resolvedPath
        self.content = content
    }
}

/// Watches the topology file of a mounted ConfigMap.
///
/// kubelet updates a ConfigMap volume by swapping the `..data` symlink atomically; an inotify
/// watch on the file goes dead after the first swap, so polling the resolved path and content is
/// the correctness path (as swift-configuration's ReloadingFileProvider does). An inotify watch
/// on the *directory* makes a swap visible at once, and SIGHUP forces an immediate re-read.
/// Content is compared, not mtime: a swap can keep the mtime.
public struct ConfigWatcher: Service {
    public let path: String
    public let pollInterval: Duration
    let logger: Logger
    let onChange: @Sendable (ConfigSnapshot) async -> Void
    let onReadError: @Sendable (String) async -> Void

    public init(
        path: String,
        pollInterval: Duration,
        logger: Logger,
        onChange: @escaping @Sendable (ConfigSnapshot) async -> Void,
        onReadError: @escaping @Sendable (String) async -> Void
    ) {
        self.path = path
        self.pollInterval = pollInterval
        self.logger = logger
        self.onChange = onChange
        self.onReadError = onReadError
    }

    /// Reads the file now. Returns nil (and reports) when it cannot be read.
    public static func read(_ path: String) -> Result<ConfigSnapshot, any Error> {
        Result { () throws(HAVPNError) -> ConfigSnapshot in
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            return ConfigSnapshot(
                resolvedPath: resolved,
                content: try FileContents.read(resolved, what: "topology file")
            )
        }
    }

    public func run() async throws {
        let changes = Changes()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    await self.check(changes, reason: "poll")
                    try? await Task.sleep(for: self.pollInterval)
                }
            }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    await self.check(changes, reason: "SIGHUP")
                }
            }
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if let watch = DirectoryWatch(directory: directory) {
                group.addTask {
                    for await _ in watch.events() {
                        await self.check(changes, reason: "inotify")
                    }
                }
            }
            // Runs until the service group shuts down (or this task is cancelled).
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func check(_ changes: Changes, reason: String) async {
        switch Self.read(path) {
        case .success(let snapshot):
            if await changes.update(snapshot) {
                logger.debug(
                    "topology file changed",
                    metadata: ["config.trigger": "\(reason)", "config.path": "\(snapshot.resolvedPath)"]
                )
                await onChange(snapshot)
            }
        case .failure(let error):
            let message = "cannot read \(path): \(fileErrorText(error))"
            if await changes.updateError(message) {
                await onReadError(message)
            }
        }
    }

    /// The last snapshot seen, so each change is reported once.
    actor Changes {
        var last: ConfigSnapshot?
        var lastError: String?
        func update(_ s: ConfigSnapshot) -> Bool {
            lastError = nil
            if s == last { return false }
            last = s
            return true
        }
        func updateError(_ e: String) -> Bool {
            defer { lastError = e }
            return e != lastError
        }
    }
}
