import Glibc

/// The standard `process_*` families of Prometheus clients (CPU, memory, descriptors, threads),
/// read from `/proc/self` when /metrics is scraped: a value sampled on a timer would be as old as
/// the timer, and nothing records them between scrapes.
///
/// swift-prometheus has no process collector; these few lines of text are appended to the
/// registry's exposition. Parsing is kept apart from reading so that tests can feed it a sample.
struct ProcessMetrics: Hashable, Sendable {
    var cpuSeconds: Double
    var residentMemoryBytes: Double
    var virtualMemoryBytes: Double
    var threads: Int
    var openFileDescriptors: Int?
    var maxFileDescriptors: Int?

    /// The fields of `/proc/self/stat` (see proc(5)); nil when the text is not one.
    ///
    /// The command name (field 2) is in parentheses and may itself contain spaces and `)`, so the
    /// fields are counted from the last `)`.
    init?(stat: String, clockTicksPerSecond: Int, pageSize: Int) {
        guard let close = stat.lastIndex(of: ")"), clockTicksPerSecond > 0 else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // fields[0] is field 3 (state): field n is fields[n - 3].
        func field(_ n: Int) -> Double? { fields.count > n - 3 ? Double(fields[n - 3]) : nil }
        guard let utime = field(14), let stime = field(15), let threads = field(20), let vsize = field(23),
            let rss = field(24)
        else { return nil }
        cpuSeconds = (utime + stime) / Double(clockTicksPerSecond)
        self.threads = Int(threads)
        virtualMemoryBytes = vsize
        residentMemoryBytes = rss * Double(pageSize)
    }

    /// This process now; values it cannot read are left out (an empty sample if /proc is absent).
    static func sample() -> ProcessMetrics? {
        guard let stat = readText("/proc/self/stat"),
            var sample = ProcessMetrics(
                stat: stat,
                clockTicksPerSecond: sysconf(Int32(_SC_CLK_TCK)),
                pageSize: Int(getpagesize())
            )
        else { return nil }
        sample.openFileDescriptors = countEntries("/proc/self/fd")
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < UInt(Int.max) {
            sample.maxFileDescriptors = Int(limit.rlim_cur)
        }
        return sample
    }

    /// The Prometheus text of the sample, with `# HELP` and `# TYPE` lines.
    var prometheusText: String {
        var text = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds)
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentMemoryBytes)
        family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualMemoryBytes)
        family("process_open_fds", "gauge", "Number of open file descriptors.", openFileDescriptors.map(Double.init))
        family(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            maxFileDescriptors.map(Double.init)
        )
        family("process_threads", "gauge", "Number of OS threads in the process.", Double(threads))
        return text
    }

    private static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: bytes[0..<n], as: UTF8.self)
    }

    /// Entries of a directory but `.` and `..` (the descriptor reading it included, as other clients count it).
    private static func countEntries(_ path: String) -> Int? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { count += 1 }
        }
        return count
    }
}

extension Optional where Wrapped == ProcessMetrics {
    /// Nothing when /proc could not be read.
    var prometheusText: String { self?.prometheusText ?? "" }
}
