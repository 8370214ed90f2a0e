import HAVPNControl
import HAVPNModel
import HAVPNPlanner

/// A finished reconcile pass, as `/status` shows it.
struct ReconcileRecord: Hashable, Sendable {
    var at: Instant
    var reasons: ReconcileReasons
    var outcome: String
    var actions: Int
    var error: String?
}

/// What the core shows of itself: readiness and the `/status` document; the probe statistics and
/// the announcements it sends, as observations.
extension SideCarCore {
    var readiness: Readiness {
        var reasons: [String] = []
        if let configError { reasons.append("topology file invalid, running the last good one: \(configError)") }
        if let lastReconcileError { reasons.append("kernel not in the declared state: \(lastReconcileError)") }
        if backoff.consecutiveFailures > 0 {
            reasons.append(
                "reconcile failed \(backoff.consecutiveFailures) times in a row; next attempt after a \(Self.seconds(backoff.delay)) s backoff"
            )
        }
        if !converged && lastReconcileError == nil { reasons.append("first reconcile pending") }
        if topology.mode == .single {
            reasons += singleModeReasons  // SideCarCore+Single.swift
            return Readiness(ready: reasons.isEmpty, reasons: reasons)
        }
        switch identity.role {
        case .apiserver:
            if let pc = clientPaths?.controller,
                pc.active == nil || !(0..<topology.shootClients).contains(where: { pc.health(of: $0).isHealthy })
            {
                reasons.append("no healthy shoot client")
            }
        case .shoot:
            if currentPeers.isEmpty && topology.apiservers.isEmpty { reasons.append("no apiserver known yet") }
        case .server:
            break
        }
        return Readiness(ready: reasons.isEmpty, reasons: reasons)
    }

    /// The `/status` document at `now`.
    func status(at now: Instant, version: String) -> StatusDocument {
        let readiness = self.readiness
        func age(_ since: Instant) -> Double { Self.seconds(now - since) }
        var document = StatusDocument(
            role: identity.role.rawValue,
            index: identity.index,
            version: version,
            uptimeSeconds: age(startedAt),
            ready: readiness.ready,
            reasons: readiness.reasons,
            tunnels: tunnelsSince.sorted { $0.key < $1.key }.map { .init(device: $0.key, ageSeconds: age($0.value)) },
            backoff: .init(consecutiveFailures: backoff.consecutiveFailures, delaySeconds: Self.seconds(backoff.delay))
        )
        if let sp = serverPaths {
            document.bond = .init(
                server: sp.preferred,
                paths: (0..<topology.servers).map { .init(server: $0, status: sp.status(of: $0).rawValue) }
            )
        }
        if let cp = clientPaths {
            document.shootClients = .init(
                active: inputs.activeShootClient,
                clients: (0..<topology.shootClients).map { client in
                    let s = cp.controller.statistics(of: client)
                    let judged = s.map { $0.replies + $0.losses > 0 } ?? false
                    return .init(
                        client: client,
                        health: cp.controller.health(of: client).rawValue,
                        lossRatio: judged ? s?.lossRatio : nil,
                        rttSeconds: judged && cp.controller.answeredLastProbe(client)
                            ? s?.lastRTT.map(Self.seconds) : nil
                    )
                }
            )
        }
        if identity.role == .shoot {
            document.peers = currentPeers.map {
                .init(
                    bondAddress: $0.bondAddress.description,
                    podIPs: $0.podIPs.map(\.description),
                    ageSeconds: age(peersSince[$0.bondAddress] ?? now)
                )
            }
        }
        if let r = lastReconcile {
            document.lastReconcile = .init(
                ageSeconds: age(r.at),
                reasons: r.reasons.description,
                outcome: r.outcome,
                actions: r.actions,
                error: r.error
            )
        }
        return document
    }

    /// Probe loss and RTT of every shoot client, after replies and timeouts alike (recording on
    /// replies only froze both at their last good values when a client died).
    mutating func recordProbeStatistics() {
        guard let controller = clientPaths?.controller else { return }
        var samples: [ProbeSample] = []
        for client in 0..<topology.shootClients {
            guard let s = controller.statistics(of: client), s.replies + s.losses > 0 else { continue }
            samples.append(
                ProbeSample(
                    client: client,
                    rtt: controller.answeredLastProbe(client) ? s.lastRTT : nil,
                    lossRatio: s.lossRatio
                )
            )
        }
        // None judged yet: nothing to record (the series appear with the first judged probe).
        if !samples.isEmpty { record(.probeStatistics(samples)) }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    mutating func announcementEffects(_ actions: [AnnouncementScheduler.Action]) -> [SideCarEffect] {
        actions.map { action in
            switch action {
            case .send(let to, let payload):
                record(.announcementSent)
                return .sendAnnouncement(to: to, payload: payload)
            }
        }
    }
}
