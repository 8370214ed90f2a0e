/// The clients of an openvpn server's status file (`status-version 2`, comma separated, or 3, tab
/// separated), as the server's readiness in single mode needs them. Pure: text in, values out.
public struct OpenVPNStatus: Hashable, Sendable {
    /// Common names of the connected clients, in file order (one per CLIENT_LIST line).
    public var clients: [String]

    public init(clients: [String]) { self.clients = clients }

    /// The status in `text`, or nil when it is not a complete version 2/3 status file: openvpn
    /// rewrites the file in place every few seconds, so a read can catch it half written (no `END`).
    public static func parse(_ text: String) -> OpenVPNStatus? {
        var clients: [String] = []
        var sawTitle = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line == "END" { return sawTitle ? OpenVPNStatus(clients: clients) : nil }
            let separator: Character = line.contains("\t") ? "\t" : ","
            let fields = line.split(separator: separator, omittingEmptySubsequences: false)
            switch fields.first {
            case "TITLE": sawTitle = true
            case "CLIENT_LIST":
                guard fields.count > 1, !fields[1].isEmpty else { return nil }
                clients.append(String(fields[1]))
            default: break  // TIME, HEADER, ROUTING_TABLE, GLOBAL_STATS
            }
        }
        return nil
    }
}

/// Readiness of the two side-cars of single mode (vpn2's non-HA tunnel), from values only.
public enum SingleModeReadiness {
    /// The common name of vpn-shoot's client certificate (vpn2's `ShootClientPrefix`).
    public static let shootClientName = "vpn-shoot-client"

    /// vpn2's `isReady` for non-HA: ready with no client at all (a new shoot connects later; the server
    /// must be in its Service for that), or when a vpn-shoot client is among them. Clients but none of
    /// them vpn-shoot's means a foreign certificate took the tunnel.
    ///
    /// - Parameter status: the parsed status file; nil when it was never read completely.
    /// - Parameter problem: why the file could not be read, if it could not.
    public static func server(status: OpenVPNStatus?, problem: String?) -> [String] {
        if let problem { return [problem] }
        guard let status else { return ["openvpn has not written a complete status file yet"] }
        if status.clients.isEmpty || status.clients.contains(where: { $0.hasPrefix(shootClientName) }) { return [] }
        return ["openvpn has \(status.clients.count) client(s) but no \(shootClientName)"]
    }

    /// vpn-shoot is ready once openvpn's tun device is up and havpn's routes through it are in place,
    /// i.e. the last reconcile left no route waiting for the device.
    ///
    /// - Parameter waiting: the last plan's ``waiting`` lines (one per device routes wait for).
    public static func shoot(waiting: [String]) -> [String] {
        waiting.map { "routes not in place: \($0)" }
    }
}
