import HAVPNControl
import HAVPNModel

/// Single mode (vpn2's non-HA tunnel) in the core: readiness from the openvpn status file (server) and
/// from the routes through tun0 (both roles). The loop reads the file (thin I/O); the verdict is
/// HAVPNControl's ``SingleModeReadiness``.
extension SideCarCore {
    /// The openvpn server's status file, substituted for this server's index; nil where it is not read.
    var openvpnStatusFile: String? {
        guard topology.mode == .single, identity.role == .server else { return nil }
        return topology.openvpn.statusFile.replacing("{i}", with: String(identity.index))
    }

    /// The file's content as just read, or why it could not be read.
    mutating func openvpnStatusRead(_ result: Result<String, HAVPNError>) {
        switch result {
        case .success(let text):
            openvpnStatusProblem = nil
            // A half-written file keeps the last complete reading: openvpn rewrites it in place.
            if let status = OpenVPNStatus.parse(text) { openvpnStatus = status }
        case .failure(let error):
            openvpnStatusProblem = "cannot read the openvpn status file: \(error)"
        }
    }

    var singleModeReasons: [String] {
        var reasons = SingleModeReadiness.shoot(waiting: waiting)
        if identity.role == .server {
            reasons += SingleModeReadiness.server(status: openvpnStatus, problem: openvpnStatusProblem)
        }
        return reasons
    }
}
