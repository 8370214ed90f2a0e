import Foundation
import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import MetricsTestKit
import Prometheus
import Testing

@testable import HAVPNService

@Suite struct SideCarMetricsTruthTests {
    @Test func probeLossAndRTTMoveWhenAClientStopsAnswering() throws {
        let (sim, live) = try Simulation.apiserverWithLiveClients()
        sim.advance(by: .seconds(2))
        #expect(metricValue(sim.metrics, "havpn_probe_loss_ratio{client=\"1\"}") == 0)
        let rtt = try #require(metricValue(sim.metrics, "havpn_probe_rtt_seconds{client=\"1\"}"))
        #expect(!rtt.isNaN)

        live.clients = [0]
        sim.advance(by: .seconds(2))
        let loss = try #require(metricValue(sim.metrics, "havpn_probe_loss_ratio{client=\"1\"}"))
        #expect(loss > 0.3)
        #expect(metricValue(sim.metrics, "havpn_probe_rtt_seconds{client=\"1\"}")?.isNaN == true)
        #expect(metricValue(sim.metrics, "havpn_probe_loss_ratio{client=\"0\"}") == 0)

        live.clients = [0, 1]
        sim.advance(by: .seconds(2))
        #expect(metricValue(sim.metrics, "havpn_probe_rtt_seconds{client=\"1\"}")?.isNaN == false)
        #expect(try #require(metricValue(sim.metrics, "havpn_probe_loss_ratio{client=\"1\"}")) < loss)
    }

    @Test func seriesOfClientsAndServersTheTopologyDroppedAreRemoved() throws {
        let three = Fixture.exampleYAML(replacing: "shootClients: 2", with: "shootClients: 3")
        let sim = try Simulation(role: .apiserver, index: 1, yaml: three)
        sim.answerProbe = { _ in true }
        sim.answerBeacon = { _ in true }
        sim.start()
        sim.advance(by: .seconds(2))
        #expect(metricValue(sim.metrics, "havpn_probe_loss_ratio{client=\"2\"}") == 0)
        #expect(metricValue(sim.metrics, "havpn_shoot_client_healthy{client=\"2\"}") == 1)
        #expect(metricValue(sim.metrics, "havpn_server_path_healthy{server=\"1\"}") == 1)

        let two = Fixture.exampleYAML(replacing: "servers: 2 ", with: "servers: 1 ")  // and 2 clients
        sim.process(sim.core.configChanged(yaml: two, file: "topology.yaml", at: sim.now))
        sim.advance(by: .seconds(1))
        for gone in [
            "havpn_probe_loss_ratio{client=\"2\"}", "havpn_probe_rtt_seconds{client=\"2\"}",
            "havpn_shoot_client_healthy{client=\"2\"}", "havpn_server_path_healthy{server=\"1\"}",
        ] {
            #expect(metricValue(sim.metrics, gone) == nil, "\(gone) still exported")
        }
        #expect(metricValue(sim.metrics, "havpn_probe_loss_ratio{client=\"1\"}") == 0)
    }

    @Test func activeShootClientOnlyOnApiserverPods() throws {
        let shoot = try Simulation(role: .shoot, index: 0)
        #expect(metricValue(shoot.metrics, "havpn_active_shoot_client") == nil)
        let server = try Simulation(role: .server, index: 0)
        #expect(metricValue(server.metrics, "havpn_active_shoot_client") == nil)
        let apiserver = try Simulation(role: .apiserver, index: 1)
        #expect(metricValue(apiserver.metrics, "havpn_active_shoot_client") == 0)
        let routedThrough1 = try Simulation(role: .apiserver, index: 1, learned: ControllerInputs(activeShootClient: 1))
        #expect(metricValue(routedThrough1.metrics, "havpn_active_shoot_client") == 1)
    }

    @Test func removedLabelledSeriesLeaveThePrometheusText() {
        let backend = PrometheusBackend()
        let metrics = SideCarMetrics(factory: backend, role: .apiserver)
        metrics.probe(client: 0, rtt: .milliseconds(2), lossRatio: 0)
        metrics.probe(client: 1, rtt: nil, lossRatio: 1)
        metrics.clientHealthy(1, false)
        metrics.serverPathHealthy(1, true)
        var text = backend.registry.emitToString()
        #expect(text.contains("havpn_probe_rtt_seconds{client=\"1\"} nan"))
        #expect(text.contains("havpn_probe_loss_ratio{client=\"1\"} 1.0"))
        metrics.removeClient(1)
        metrics.removeServer(1)
        text = backend.registry.emitToString()
        #expect(!text.contains("client=\"1\""))
        #expect(!text.contains("server=\"1\""))
        #expect(text.contains("havpn_probe_rtt_seconds{client=\"0\"} 0.002"))
    }

    @Test func buildInfo() {
        let backend = PrometheusBackend()
        SideCarMetrics(factory: backend, role: .shoot).buildInfo(version: "0.1.0", commit: "abc1234")
        let text = backend.registry.emitToString()
        #expect(text.contains("# HELP havpn_build_info "))
        #expect(text.contains("havpn_build_info{version=\"0.1.0\",commit=\"abc1234\"} 1.0"))
        #expect(!text.contains("havpn_active_shoot_client"))
    }
}

@Suite struct ProcessMetricsTests {
    @Test func parsesProcSelfStatWithAnAwkwardCommandName() throws {
        // proc(5): utime 250, stime 50 ticks; 7 threads; vsize 3133440; rss 412 pages.
        let stat =
            "26169 (a) b) c) R 26113 26113 29054 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 7 0 566180 3133440 412 "
            + "18446744073709551615 94610709180416 0"
        let sample = try #require(ProcessMetrics(stat: stat, clockTicksPerSecond: 100, pageSize: 4096))
        #expect(sample.cpuSeconds == 3)
        #expect(sample.threads == 7)
        #expect(sample.virtualMemoryBytes == 3_133_440)
        #expect(sample.residentMemoryBytes == 412 * 4096)
        #expect(ProcessMetrics(stat: "1 (x) R 1 2", clockTicksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test func thisProcessIsSampled() throws {
        let sample = try #require(ProcessMetrics.sample())
        #expect(sample.threads >= 1)
        #expect(sample.residentMemoryBytes > 0)
        #expect((sample.openFileDescriptors ?? 0) >= 3)
        let text = sample.prometheusText
        for name in [
            "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_threads",
        ] {
            #expect(text.contains("# TYPE \(name) "), "\(name) missing")
        }
    }
}
