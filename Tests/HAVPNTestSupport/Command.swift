import Foundation

/// A tool that could not be started or exited non-zero; the description carries its output.
public struct CommandFailed: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}

/// Serialises "make a pipe, spawn, close the write end": tests run in parallel, and a child spawned
/// meanwhile would inherit another call's write end (no close-on-exec), so that call would never
/// read end-of-file.
private let spawnLock = NSLock()

/// Runs a tool found on PATH and returns its output (stdout and stderr together); throws on a
/// non-zero exit. (Tests only: the tests use tools such as `ip` and `nft` as an independent second
/// opinion and as "the operator's hand".)
///
/// posix_spawn rather than Foundation's Process: Process waits through a CFSocket wakeup pair,
/// which user-mode-linux (the kernel lab) refuses to create ("Could not create wakeup socket
/// pair"), and then hangs.
@discardableResult
public func run(_ tool: String, _ arguments: [String]) throws -> String {
    spawnLock.lock()
    var pipeEnds: [Int32] = [0, 0]
    guard pipe(&pipeEnds) == 0 else {
        spawnLock.unlock()
        throw CommandFailed(description: "pipe failed")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 2)
    posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
    let argv = (["/usr/bin/env", tool] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
    close(pipeEnds[1])
    spawnLock.unlock()
    guard spawned == 0 else {
        close(pipeEnds[0])
        throw CommandFailed(description: "cannot run \(tool): \(spawned)")
    }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
        if count > 0 {
            output += chunk[0..<count]
        } else if count == 0 || errno != EINTR {
            break
        }
    }
    close(pipeEnds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = String(decoding: output, as: UTF8.self)
    // WIFEXITED && WEXITSTATUS == 0
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        throw CommandFailed(description: "\(tool) \(arguments.joined(separator: " ")): status \(status): \(text)")
    }
    return text
}
