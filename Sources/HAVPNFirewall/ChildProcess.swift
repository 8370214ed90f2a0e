internal import CNftables
import Glibc
import HAVPNModel

/// A finished child process: exit status and what it wrote.
struct ChildResult {
    var status: Int32
    var output: String
    var errorOutput: String
}

/// Runs a program with posix_spawn from the calling thread, so the child starts in the thread's
/// network namespace. (Foundation's `Process` spawns from a helper thread and hangs in the UML lab.)
enum ChildProcess {
    static func run(_ path: String, _ arguments: [String], input: String = "") throws(HAVPNError) -> ChildResult {
        var stdinPipe: [Int32] = [0, 0]
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        guard pipe2(&stdinPipe, O_CLOEXEC) == 0 else { throw failure(path, "pipe") }
        guard pipe2(&stdoutPipe, O_CLOEXEC) == 0 else { throw failure(path, "pipe") }
        guard pipe2(&stderrPipe, O_CLOEXEC) == 0 else { throw failure(path, "pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [
            strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), strdup("LC_ALL=C"), nil,
        ]
        defer { for p in envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard rc == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            throw HAVPNError(
                .missingKernelFeature,
                "cannot run \(path)",
                object: path,
                errno: rc,
                errnoText: String(cString: strerror(rc))
            )
        }
        // Inputs are a few KiB at most, below the pipe's 64 KiB: writing all before reading cannot block
        // on a child that waits for us to read its output.
        var bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(stdinPipe[1], $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
        close(stdinPipe[1])
        bytes = []
        let output = readAll(stdoutPipe[0])
        let errorOutput = readAll(stderrPipe[0])
        close(stdoutPipe[0])
        close(stderrPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ChildResult(status: exitCode, output: output, errorOutput: errorOutput)
    }

    private static func readAll(_ fd: Int32) -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func failure(_ path: String, _ what: String) -> HAVPNError {
        let code = errno
        return HAVPNError(
            .io,
            "cannot run \(path): \(what) failed",
            errno: code,
            errnoText: String(cString: strerror(code))
        )
    }
}
