import Foundation
import Glibc
import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import Logging
import Prometheus
import Synchronization
import Testing

@testable import HAVPNService

/// A blocking HTTP/1.0 GET on a loopback TCP socket (with a receive timeout): status code and body.
private func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
    guard send(fd, request, request.count, 0) == request.count else { throw POSIXError(.EIO) }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n > 0 else {
            if n < 0 { throw POSIXError(.ETIMEDOUT) }
            break
        }
        response += buffer[..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let statusLine = text.split(separator: "\r\n").first else {
        throw POSIXError(.EBADMSG)
    }
    let status = Int(statusLine.split(separator: " ")[1]) ?? 0
    return (status, String(text[split.upperBound...]))
}

/// The first element of `stream`, or nil after `timeout`.
func first<T: Sendable>(_ stream: AsyncStream<T>, within timeout: Duration) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await stream.first { _ in true } }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result
    }
}

@Suite struct HealthServerTests {
    @Test func endpointsOverLoopback() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "havpn_test_requests_total", unitName: "", helpText: "Test.")
        ).increment(by: Int64(3))
        let readiness = Mutex(Readiness(ready: false, reasons: ["first reconcile pending", "no healthy shoot client"]))
        let (bound, boundSink) = AsyncStream.makeStream(of: Int.self)
        let server = HealthServer(
            host: "127.0.0.1",
            port: 0,
            logger: Fixture.silentLogger,
            liveness: { Readiness(ready: true) },
            readiness: { readiness.withLock { $0 } },
            metrics: { registry.emitToBuffer() },
            onBound: { boundSink.yield($0) }
        )
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let port = try #require(await first(bound, within: .seconds(10)))
        #expect(port > 0)

        // The client blocks in connect/recv, so it runs on a thread of its own: on the
        // cooperative pool (two threads on a two-core machine, shared by the parallel tests) it
        // starved the very server tasks it was waiting for, and requests timed out.
        let get: @Sendable (String) async throws -> (status: Int, body: String) = { path in
            try await withCheckedThrowingContinuation { done in
                Thread { done.resume(with: Result { try httpGet(port: port, path: path) }) }.start()
            }
        }
        let health = try await get("/healthz")
        #expect(health.status == 200)
        #expect(health.body == "ok\n")

        let notReady = try await get("/readyz")
        #expect(notReady.status == 503)
        #expect(notReady.body.contains("first reconcile pending"))
        #expect(notReady.body.contains("no healthy shoot client"))

        readiness.withLock { $0 = Readiness(ready: true) }
        let ready = try await get("/readyz?verbose=1")
        #expect(ready.status == 200)
        #expect(ready.body == "ok\n")

        let metrics = try await get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("# TYPE havpn_test_requests_total counter"))
        #expect(metrics.body.contains("havpn_test_requests_total 3"))

        let missing = try await get("/nope")
        #expect(missing.status == 404)

        serving.cancel()
        let (stopped, stoppedSink) = AsyncStream.makeStream(of: Bool.self)
        Task {
            _ = await serving.result
            stoppedSink.yield(true)
        }
        #expect(await first(stopped, within: .seconds(5)) == true, "the server did not stop when cancelled")
    }

    @Test func sideCarMetricsAreExported() async throws {
        let backend = PrometheusBackend()
        let metrics = SideCarMetrics(factory: backend)
        metrics.actions([.deleteRoute(RouteSpec(destination: IPNetwork("10.0.0.0/8")!, device: "x"))])
        metrics.clientHealthy(1, true)
        let text = backend.registry.emitToString()
        for name in ["havpn_reconciles_total", "havpn_config_valid", "havpn_path_switches_total", "havpn_ready"] {
            #expect(text.contains("# TYPE \(name)"), "\(name) missing")
        }
        #expect(text.contains("# HELP havpn_reconciles_total Reconcile passes run.\n"))
        #expect(text.contains("# TYPE havpn_reconcile_duration_seconds histogram"))
        #expect(text.contains("havpn_reconcile_duration_seconds_bucket{le=\"0.001\"} 0"))
        #expect(text.contains("havpn_actions_total{kind=\"delete_route\"} 1"))
        #expect(text.contains("havpn_shoot_client_healthy{client=\"1\"} 1"))
    }
}
