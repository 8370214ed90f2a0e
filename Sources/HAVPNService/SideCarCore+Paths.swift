import HAVPNControl
import HAVPNModel

/// The path supervisions' decisions, turned into planner inputs, effects, logs and metrics.
extension SideCarCore {
    /// What the apiserver's path supervision decided, carried into the planner's inputs, logs and metrics.
    mutating func apply(_ actions: [ClientPathSupervisor.Action], at now: Instant) -> [SideCarEffect] {
        var effects: [SideCarEffect] = []
        for action in actions {
            switch action {
            case .sendProbe(let client, let sequence):
                effects.append(.sendProbe(to: plan.shootClientBondAddress(client), sequence: sequence))
            case .route(let from, let to):
                logger.notice(
                    "switching active shoot client",
                    metadata: ["path.from": "\(from.map(String.init) ?? "none")", "path.to": "\(to)"]
                )
                if from != nil { metrics.pathSwitches.increment() }
                metrics.activeShootClient?.record(Double(to))
                inputs.activeShootClient = to
                trigger.trigger(.controllerInput, at: now)
            case .switchHeld(let from, let to):
                logger.info(
                    "holding a shoot client switch while bonds fail over",
                    metadata: ["path.from": "\(from)", "path.to": "\(to)"]
                )
            case .keptAfterHold(let client):
                logger.info("shoot client recovered during the hold; no switch", metadata: ["path.client": "\(client)"])
            case .healthChanged(let client, let health):
                logger.info(
                    "shoot client health changed",
                    metadata: ["path.client": "\(client)", "path.health": "\(health.rawValue)"]
                )
                metrics.clientHealthy(client, health.isHealthy)
            case .probeAnswered:
                break  // recordProbeStatistics() covers replies and timeouts alike
            case .readinessChanged(let r):
                logger.notice("path readiness changed", metadata: ["path.readiness": "\(r)"])
            }
        }
        return effects
    }

    /// What the server path supervision decided. A server path changing state, or the bond's own
    /// move, starts a failover of bonds everywhere: client switches are held meanwhile.
    mutating func apply(_ actions: [ServerPathSupervisor.Action], at now: Instant) -> [SideCarEffect] {
        var effects: [SideCarEffect] = []
        for action in actions {
            switch action {
            case .sendBeacon(let server, let sequence):
                let beacon = PathBeacon(
                    kind: .request,
                    role: identity.role,
                    index: identity.index,
                    server: server,
                    sequence: sequence
                )
                effects.append(.sendBeacon(server: server, bytes: beacon.bytes, to: nil))
            case .moveBond(let from, let to):
                logger.notice("moving bond to VPN server path", metadata: ["path.from": "\(from)", "path.to": "\(to)"])
                metrics.serverPathSwitches.increment()
                metrics.preferredServer.record(Double(to))
                inputs.preferredServer = to
                holdClientSwitches(at: now)
                trigger.trigger(.controllerInput, at: now)
            case .healthChanged(let server, let health):
                guard serverPaths?.hasBeaconPeers(server) ?? true else {
                    // Beacons nobody answers prove nothing: no failover hold, no "dead" reading.
                    logger.info(
                        "no beacon peers on VPN server path (peers that do not answer havpn's beacons, such as vpn2); its health is unknown",
                        metadata: ["path.server": "\(server)", "path.health": "no-beacon-peers"]
                    )
                    metrics.serverPathBeaconPeers(server, false)
                    continue
                }
                holdClientSwitches(at: now)
                logger.info(
                    "VPN server path health changed",
                    metadata: ["path.server": "\(server)", "path.health": "\(health.rawValue)"]
                )
                metrics.serverPathHealthy(server, health.isHealthy)
            }
        }
        return effects
    }
}
