import HAVPNControl
import HAVPNModel

/// The path supervisions: the packets that feed them (probe replies, beacons), and their decisions turned into
/// planner inputs, effects and observations.
extension SideCarCore {
    mutating func probeReply(from address: IPv6Address, sequence: UInt16, at now: Instant) -> [SideCarEffect] {
        guard var cp = clientPaths, let client = plan.shootClientIndex(ofBondAddress: address) else { return [] }
        let actions = cp.probeReply(client: client, sequence: sequence, at: now)
        clientPaths = cp
        defer { recordProbeStatistics() }
        return apply(actions, at: now)
    }

    /// A beacon frame heard on tap `server`, from the Ethernet address `source`.
    mutating func beacon(_ bytes: [UInt8], server: Int, from source: [UInt8]? = nil, at now: Instant) -> [SideCarEffect]
    {
        guard let beacon = PathBeacon(bytes: bytes), beacon.server == server else { return [] }
        switch beacon.kind {
        case .request:
            guard PathBeacon.answers(identity.role, requestFrom: beacon.role),
                beacon.role != identity.role || beacon.index != identity.index
            else { return [] }
            // Unicast back to the requester: the openvpn server then forwards the reply to one
            // client instead of flooding it to all of them.
            return [
                .sendBeacon(
                    server: server,
                    bytes: beacon.reply(role: identity.role, index: identity.index).bytes,
                    to: source
                )
            ]
        case .reply:
            guard let r = beacon.requester, r.role == identity.role, r.index == identity.index,
                var sp = serverPaths
            else { return [] }
            let hadPeers = sp.hasBeaconPeers(server)
            var actions = sp.peerHeard(
                server: server,
                peer: Identity(role: beacon.role, index: beacon.index),
                at: now
            )
            if PathBeacon.provesPath(for: identity.role, replyFrom: beacon.role) {
                actions += sp.beaconReply(server: server, sequence: beacon.sequence, at: now)
            }
            serverPaths = sp
            if !hadPeers && sp.hasBeaconPeers(server) {
                record(.serverPathBeaconPeersFound(server: server, healthy: sp.controller.health(of: server).isHealthy))
            }
            return apply(actions, at: now)
        }
    }

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
