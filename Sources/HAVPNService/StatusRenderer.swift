/// `havpn status`'s terminal view of a ``StatusDocument``: a header line, then one compact table
/// per part of the fabric this pod sees. Plain text, no colours: it is read over `kubectl exec`
/// and pasted into tickets.
public enum StatusRenderer {
    public static func human(_ d: StatusDocument) -> String {
        var out = "\(d.role) \(d.index)  havpn \(d.version)  up \(age(d.uptimeSeconds))  "
        out += d.ready ? "ready\n" : "NOT READY\n"
        for reason in d.reasons { out += "  - \(reason)\n" }
        if let bond = d.bond {
            out += "\nVPN server paths (bond uses server \(bond.server))\n"
            out += table(
                ["SERVER", "PATH", "BOND"],
                bond.paths.map { ["\($0.server)", $0.status, $0.server == bond.server ? "*" : ""] }
            )
        }
        if let clients = d.shootClients {
            out += "\nShoot clients (routed through client \(clients.active))\n"
            out += table(
                ["CLIENT", "HEALTH", "LOSS", "RTT", "ROUTED"],
                clients.clients.map {
                    [
                        "\($0.client)", $0.health, $0.lossRatio.map { percent($0) } ?? "-",
                        $0.rttSeconds.map { millis($0) } ?? "-",
                        $0.client == clients.active ? "*" : "",
                    ]
                }
            )
        }
        if !d.tunnels.isEmpty {
            out += "\nTunnels\n"
            out += table(["DEVICE", "AGE"], d.tunnels.map { [$0.device, age($0.ageSeconds)] })
        }
        if let peers = d.peers {
            out += "\nkube-apiserver peers\n"
            out +=
                peers.isEmpty
                ? "  none known\n"
                : table(
                    ["BOND ADDRESS", "POD IPS", "AGE"],
                    peers.map { [$0.bondAddress, $0.podIPs.joined(separator: ","), age($0.ageSeconds)] }
                )
        }
        out += "\nLast reconcile: "
        if let r = d.lastReconcile {
            out +=
                "\(r.outcome), \(age(r.ageSeconds)) ago (\(r.reasons)), \(r.actions) action\(r.actions == 1 ? "" : "s")"
            if let error = r.error { out += "\n  \(error)" }
        } else {
            out += "none yet"
        }
        out += "\n"
        if d.backoff.consecutiveFailures > 0 {
            out +=
                "Backoff: \(d.backoff.consecutiveFailures) failures in a row, next attempt after \(age(d.backoff.delaySeconds))\n"
        }
        return out
    }

    /// Left-aligned columns two spaces apart, indented by two.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            var line = "  "
            for (column, cell) in row.enumerated() {
                line +=
                    column == row.count - 1
                    ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line + "\n"
        }.joined()
    }

    /// 45s, 12m03s, 3h07m, 2d04h.
    static func age(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "-" }
        if seconds < 10 { return trimmed(seconds, places: 1) + "s" }
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + pad(s % 60) + "s" }
        if s < 86400 { return "\(s / 3600)h" + pad(s % 3600 / 60) + "m" }
        return "\(s / 86400)d" + pad(s % 86400 / 3600) + "h"
    }

    static func percent(_ ratio: Double) -> String { trimmed(ratio * 100, places: 1) + "%" }
    static func millis(_ seconds: Double) -> String { trimmed(seconds * 1000, places: 1) + "ms" }

    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// `places` decimals, rounded, without Foundation's formatters.
    private static func trimmed(_ v: Double, places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((v * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = scaled % Int(scale)
        return places == 0
            ? "\(whole)" : "\(whole)." + String(repeating: "0", count: places - "\(fraction)".count) + "\(fraction)"
    }
}
