import HAVPNControl
import HAVPNPlanner
import Logging

/// Turns the core's observations into the side-car's log lines and metric updates.
///
/// The messages, levels and metadata keys are an interface: the e2e harness (e2e/lib.sh,
/// e2e/scenarios) and the CLI tests match them, and the metric families are the ones README lists
/// and scripts/check-operability checks against the dashboard and the alert rules.
struct SideCarObserver: Sendable {
    let logger: Logger
    let metrics: SideCarMetrics

    func observe(_ observations: [SideCarObservation]) {
        for observation in observations { observe(observation) }
    }

    func observe(_ observation: SideCarObservation) {
        switch observation {
        case .started(let client):
            metrics.configValid.record(1)
            metrics.reconcileBackoff.record(0)
            metrics.activeShootClient?.record(Double(client))
        case .topologyValid:
            metrics.configValid.record(1)
        case .topologyChanged(let file):
            metrics.configReloads.increment()
            logger.notice("topology changed", metadata: ["config.file": "\(file)"])
        case .shootClientRemoved(let client):
            metrics.removeClient(client)
        case .serverRemoved(let server):
            metrics.removeServer(server)
        case .topologyRejected(let message, let repeated):
            if !repeated {
                logger.error(
                    "topology file rejected; keeping the last good topology",
                    metadata: ["error": "\(message)"]
                )
            }
            metrics.configReloadFailures.increment()
            metrics.configValid.record(0)
        case .reconcileStarted(let tunnels):
            metrics.tunnels.record(Double(tunnels))
        case .desiredStateFailed(let error):
            logger.error("cannot compute the desired state", metadata: ["error": "\(error)"])
        case .reconciled(let reasons, let applied, let duration):
            metrics.reconciles.increment()
            metrics.reconcileBackoff.record(0)
            metrics.reconcileDuration.recordNanoseconds(duration.nanoseconds)
            metrics.actions(applied)
            // A kernel event that needed a change is drift havpn repaired.
            if !applied.isEmpty && reasons.isDrift { metrics.driftRepairs.increment() }
            if !applied.isEmpty {
                logger.info(
                    "reconciled",
                    metadata: [
                        "reconcile.reasons": "\(reasons)",
                        "reconcile.actions": .stringConvertible(applied.count),
                        "reconcile.duration": .stringConvertible(duration),
                        "reconcile.changes": "\(applied.map(PlanRenderer.line).joined(separator: "; "))",
                    ]
                )
            }
        case .reconcileFailed(let error, let reasons, let backoff, let failures):
            metrics.reconciles.increment()
            metrics.reconcileErrors.increment()
            metrics.reconcileBackoff.record(SideCarCore.seconds(backoff))
            logger.error(
                "reconcile failed; retrying after a backoff",
                metadata: [
                    "error": "\(error)", "reconcile.reasons": "\(reasons)",
                    "reconcile.backoff": .stringConvertible(backoff),
                    "reconcile.failures": .stringConvertible(failures),
                ]
            )
        case .shootClientSwitched(let from, let to):
            logger.notice(
                "switching active shoot client",
                metadata: ["path.from": "\(from.map(String.init) ?? "none")", "path.to": "\(to)"]
            )
            // The first choice after start is no switch.
            if from != nil { metrics.pathSwitches.increment() }
            metrics.activeShootClient?.record(Double(to))
        case .shootClientSwitchHeld(let from, let to):
            logger.info(
                "holding a shoot client switch while bonds fail over",
                metadata: ["path.from": "\(from)", "path.to": "\(to)"]
            )
        case .shootClientKeptAfterHold(let client):
            logger.info("shoot client recovered during the hold; no switch", metadata: ["path.client": "\(client)"])
        case .shootClientHealthChanged(let client, let health):
            logger.info(
                "shoot client health changed",
                metadata: ["path.client": "\(client)", "path.health": "\(health.rawValue)"]
            )
            metrics.clientHealthy(client, health.isHealthy)
        case .pathReadinessChanged(let readiness):
            logger.notice("path readiness changed", metadata: ["path.readiness": "\(readiness)"])
        case .probeStatistics(let samples):
            for s in samples { metrics.probe(client: s.client, rtt: s.rtt, lossRatio: s.lossRatio) }
        case .bondMoved(let from, let to):
            logger.notice("moving bond to VPN server path", metadata: ["path.from": "\(from)", "path.to": "\(to)"])
            metrics.serverPathSwitches.increment()
            metrics.preferredServer.record(Double(to))
        case .serverPathHealthChanged(let server, let health):
            logger.info(
                "VPN server path health changed",
                metadata: ["path.server": "\(server)", "path.health": "\(health.rawValue)"]
            )
            metrics.serverPathHealthy(server, health.isHealthy)
        case .serverPathWithoutBeaconPeers(let server):
            logger.info(
                "no beacon peers on VPN server path (peers that do not answer havpn's beacons, such as vpn2); its health is unknown",
                metadata: ["path.server": "\(server)", "path.health": "no-beacon-peers"]
            )
            metrics.serverPathBeaconPeers(server, false)
        case .serverPathBeaconPeersFound(let server, let healthy):
            logger.info("VPN server path has beacon peers", metadata: ["path.server": "\(server)"])
            metrics.serverPathBeaconPeers(server, true)
            metrics.serverPathHealthy(server, healthy)
        case .announcementSent:
            metrics.announcementsSent.increment()
        case .announcementAccepted:
            metrics.announcementsReceived.increment()
        case .announcementRejected(let source, let reason):
            metrics.announcementRejected(reason.rawValue)
            logger.debug(
                "announcement ignored",
                metadata: ["announcement.source": "\(source)", "announcement.reason": "\(reason.rawValue)"]
            )
        case .addressConflict(let conflict):
            // Once per conflict; the gauge (`addressConflicts`) stays up while it lasts.
            logger.warning(
                "two kube-apiserver pods announce one bond address; give them distinct --index or --bond-address",
                metadata: ["announcement.conflict": "\(conflict)"]
            )
        case .addressConflicts(let count):
            metrics.apiserverAddressConflicts.record(Double(count))
        case .apiserverPeersChanged(let count):
            metrics.knownApiservers.record(Double(count))
        }
    }
}
