import HAVPNControl
import HAVPNModel
import HAVPNPlanner
import Logging
import Synchronization
import Testing

@testable import HAVPNService

@Suite struct StatusDocumentTests {
    @Test func apiserverShowsItsBondClientsTunnelsAndLastReconcile() throws {
        let sim = try Simulation(role: .apiserver, index: 1)
        sim.answerProbe = { $0 == 0 }
        sim.answerBeacon = { _ in true }
        sim.start()
        sim.advance(by: .seconds(3))
        let d = sim.core.status(at: sim.now, version: "0.1.0 (commit abc)")
        #expect(d.role == "apiserver" && d.index == 1 && d.version == "0.1.0 (commit abc)")
        #expect(d.uptimeSeconds == 3)
        #expect(d.ready && d.reasons.isEmpty)
        #expect(
            d.bond
                == .init(server: 0, paths: [.init(server: 0, status: "healthy"), .init(server: 1, status: "healthy")])
        )
        let clients = try #require(d.shootClients)
        #expect(clients.active == 0)
        #expect(clients.clients.map(\.health) == ["healthy", "dead"])
        #expect(clients.clients[0].lossRatio == 0 && clients.clients[0].rttSeconds == 0)
        #expect(clients.clients[1].rttSeconds == nil && (clients.clients[1].lossRatio ?? 0) > 0)
        #expect(
            d.tunnels == [.init(device: "bond0-ip6tnl0", ageSeconds: 3), .init(device: "bond0-ip6tnl1", ageSeconds: 3)]
        )
        #expect(d.peers == nil)
        let last = try #require(d.lastReconcile)
        #expect(last.outcome == "converged" && last.error == nil)
        #expect(d.backoff == .init(consecutiveFailures: 0, delaySeconds: 0))
        #expect(try StatusDocument(json: d.json()) == d)
    }

    @Test func shootShowsItsPeersWithTheirAges() throws {
        let peer = ApiserverPeer(bondAddress: IPv6Address("fd8f:6d53:b97a:1::a:1")!, podIPs: [IPAddress("10.1.0.5")!])
        let sim = try Simulation(role: .shoot, index: 0, learned: ControllerInputs(apiserverPeers: [peer]))
        sim.start()
        sim.advance(by: .seconds(5))
        let d = sim.core.status(at: sim.now, version: "v")
        #expect(d.shootClients == nil)
        #expect(d.peers == [.init(bondAddress: "fd8f:6d53:b97a:1::a:1", podIPs: ["10.1.0.5"], ageSeconds: 5)])
        #expect(d.bond?.paths.map(\.status) == ["no-beacon-peers", "no-beacon-peers"])
    }

    @Test func aFailedReconcileAndItsBackoffAreShown() throws {
        let sim = try Simulation(role: .server, index: 0)
        sim.reconcileFailure = HAVPNError(.permission, "cannot write sysctl net.ipv4.ip_forward")
        sim.start()
        _ = sim.advanceByDeadlines(within: .seconds(2))  // failures at 0, 0.5 and 1.5 s
        let d = sim.core.status(at: sim.now, version: "v")
        #expect(!d.ready)
        #expect(d.bond == nil && d.shootClients == nil && d.peers == nil)
        let last = try #require(d.lastReconcile)
        #expect(last.outcome == "failed" && last.error?.contains("cannot write sysctl") == true)
        #expect(last.ageSeconds == 0.5)
        #expect(d.backoff == .init(consecutiveFailures: 3, delaySeconds: 2))
    }

    @Test func healthServerServesTheDocument() throws {
        let document = StatusDocument(
            role: "server",
            index: 0,
            version: "v",
            uptimeSeconds: 1,
            ready: true,
            reasons: []
        )
        let served = Mutex<StatusDocument?>(nil)
        let server = HealthServer(
            host: "127.0.0.1",
            port: 0,
            logger: Fixture.silentLogger,
            liveness: { .ready },
            readiness: { .ready },
            status: { served.withLock { $0 }?.json() },
            metrics: { [] }
        )
        #expect(server.respond(to: "/status").0 == .notFound)
        served.withLock { $0 = document }
        let (status, type, body) = server.respond(to: "/status")
        #expect(status == .ok && type == "application/json")
        #expect(try StatusDocument(json: body) == document)
    }
}

@Suite struct StatusRendererTests {
    @Test func terminalView() {
        let d = StatusDocument(
            role: "apiserver",
            index: 1,
            version: "0.1.0 (commit 5542b30)",
            uptimeSeconds: 754,
            ready: false,
            reasons: ["no healthy shoot client"],
            bond: .init(server: 1, paths: [.init(server: 0, status: "dead"), .init(server: 1, status: "healthy")]),
            shootClients: .init(
                active: 1,
                clients: [
                    .init(client: 0, health: "dead", lossRatio: 0.9375, rttSeconds: nil),
                    .init(client: 1, health: "healthy", lossRatio: 0, rttSeconds: 0.00125),
                ]
            ),
            tunnels: [
                .init(device: "bond0-ip6tnl0", ageSeconds: 754), .init(device: "bond0-ip6tnl1", ageSeconds: 754),
            ],
            lastReconcile: .init(
                ageSeconds: 3.2,
                reasons: "controllerInput",
                outcome: "converged",
                actions: 3,
                error: nil
            ),
            backoff: .init(consecutiveFailures: 0, delaySeconds: 0)
        )
        #expect(
            StatusRenderer.human(d) == """
                apiserver 1  havpn 0.1.0 (commit 5542b30)  up 12m34s  NOT READY
                  - no healthy shoot client

                VPN server paths (bond uses server 1)
                  SERVER  PATH     BOND
                  0       dead
                  1       healthy  *

                Shoot clients (routed through client 1)
                  CLIENT  HEALTH   LOSS   RTT    ROUTED
                  0       dead     93.8%  -
                  1       healthy  0.0%   1.3ms  *

                Tunnels
                  DEVICE         AGE
                  bond0-ip6tnl0  12m34s
                  bond0-ip6tnl1  12m34s

                Last reconcile: converged, 3.2s ago (controllerInput), 3 actions

                """
        )
    }

    @Test func shootPeersAndBackoff() {
        let d = StatusDocument(
            role: "shoot",
            index: 0,
            version: "v",
            uptimeSeconds: 90_000,
            ready: true,
            reasons: [],
            peers: [],
            lastReconcile: .init(
                ageSeconds: 0.5,
                reasons: "timer",
                outcome: "failed",
                actions: 0,
                error: "error[permission]: x"
            ),
            backoff: .init(consecutiveFailures: 4, delaySeconds: 4)
        )
        let text = StatusRenderer.human(d)
        #expect(text.hasPrefix("shoot 0  havpn v  up 1d01h  ready\n"))
        #expect(text.contains("kube-apiserver peers\n  none known\n"))
        #expect(text.contains("Last reconcile: failed, 0.5s ago (timer), 0 actions\n  error[permission]: x\n"))
        #expect(text.hasSuffix("Backoff: 4 failures in a row, next attempt after 4.0s\n"))
    }
}

@Suite struct StatusClientTests {
    @Test func endpoints() throws {
        #expect(
            try StatusClient.endpoint("http://127.0.0.1:8080") == .init(host: "127.0.0.1", port: 8080, path: "/status")
        )
        #expect(try StatusClient.endpoint("http://[::1]:9/x") == .init(host: "::1", port: 9, path: "/x"))
        #expect(try StatusClient.endpoint("http://pod/") == .init(host: "pod", port: 80, path: "/status"))
        #expect(throws: HAVPNError(.usage, "")) { try StatusClient.endpoint("https://pod") }
        #expect(throws: HAVPNError(.usage, "")) { try StatusClient.endpoint("http://pod:x") }
    }

    @Test func bodies() throws {
        #expect(
            try StatusClient.body(of: Array("HTTP/1.1 200 OK\r\nA: b\r\n\r\n{}".utf8), url: "u") == Array("{}".utf8)
        )
        #expect(throws: HAVPNError(.io, "")) {
            try StatusClient.body(of: Array("HTTP/1.1 404 Not Found\r\n\r\nnot found\n".utf8), url: "u")
        }
        #expect(throws: HAVPNError(.io, "")) { try StatusClient.body(of: Array("garbage".utf8), url: "u") }
    }
}
