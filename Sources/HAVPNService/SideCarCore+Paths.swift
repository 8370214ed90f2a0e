import HAVPNControl
import HAVPNModel

/// The path supervisions' decisions, turned into planner inputs, effects and observations.
extension SideCarCore {
    /// What the apiserver's path supervision decided, carried into the planner's inputs and observations.
    mutating func apply(_ actions: [ClientPathSupervisor.Action], at now: Instant) -> [SideCarEffect] {
        var effects: [SideCarEffect] = []
        for action in actions {
            switch action {
            case .sendProbe(let client, let sequence):
                effects.append(.sendProbe(to: plan.shootClientBondAddress(client), sequence: sequence))
            case .route(let from, let to):
                record(.shootClientSwitched(from: from, to: to))
                inputs.activeShootClient = to
                trigger.trigger(.controllerInput, at: now)
            case .switchHeld(let from, let to):
                record(.shootClientSwitchHeld(from: from, to: to))
            case .keptAfterHold(let client):
                record(.shootClientKeptAfterHold(client))
            case .healthChanged(let client, let health):
                record(.shootClientHealthChanged(client: client, health: health))
            case .probeAnswered:
                break  // recordProbeStatistics() covers replies and timeouts alike
            case .readinessChanged(let r):
                record(.pathReadinessChanged(r))
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
                record(.bondMoved(from: from, to: to))
                inputs.preferredServer = to
                holdClientSwitches(at: now)
                trigger.trigger(.controllerInput, at: now)
            case .healthChanged(let server, let health):
                guard serverPaths?.hasBeaconPeers(server) ?? true else {
                    // Beacons nobody answers prove nothing: no failover hold, no "dead" reading.
                    record(.serverPathWithoutBeaconPeers(server))
                    continue
                }
                holdClientSwitches(at: now)
                record(.serverPathHealthChanged(server: server, health: health))
            }
        }
        return effects
    }
}
