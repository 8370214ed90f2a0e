/// Walks a composed topology document section by section, filling a ``Topology`` that starts from the
/// defaults, and remembers where each value was found so ``TopologyValidator`` can point at it.
///
/// Checks that need only one value (types, ranges, CIDR syntax, name characters) happen here; checks that
/// relate values to each other happen in ``TopologyValidator``.
struct TopologyReader {
    var topology = Topology()
    /// Position of every value read, by key path.
    var locations = SourceLocations()

    static let rootKeys = [
        "apiVersion", "mode", "transport", "servers", "shootClients", "ipFamilies", "networks", "apiservers", "bond",
        "devices", "mtu", "timings", "announcements", "http", "openvpn", "filter", "nat",
        "proxy",  // Topology+Proxy.swift
    ]
    /// Interval floor: below this, probes and polls would busy-loop rather than measure anything.
    static let minimumInterval: Duration = .milliseconds(10)
    static let portRange = 1...65535

    mutating func readDocument(_ root: YAMLCursor) throws(HAVPNError) {
        let entries = try root.mapping(allowedKeys: Self.rootKeys)
        // The version decides how everything else is read, so it is checked before any other key.
        let version = try root.required("apiVersion", in: entries)
        let versionText = try version.string()
        guard versionText == Topology.apiVersion else {
            throw version.error(
                .unsupportedVersion,
                "\"\(versionText)\" is not supported; this havpn reads \(Topology.apiVersion)"
            )
        }
        for (key, value) in entries {
            note(value)
            switch key {
            case "mode": topology.mode = try value.oneOf(Topology.Mode.self)
            case "transport": try readTransport(value)
            case "servers": topology.servers = try value.int(in: 1...8)
            case "shootClients": topology.shootClients = try value.int(in: 1...8)
            case "ipFamilies": topology.ipFamilies = try readFamilies(value)
            case "networks": try readNetworks(value)
            case "apiservers":
                topology.apiservers = try value.list { (item) throws(HAVPNError) in
                    try readApiserver(item)
                }
            case "bond": try readBond(value)
            case "devices": try readDevices(value)
            case "mtu": topology.mtu = value.isNull ? nil : try value.int(in: 1280...65535)
            case "timings": try readTimings(value)
            case "announcements": try readAnnouncements(value)
            case "http": try readHTTP(value)
            case "openvpn": try readOpenVPN(value)
            case "filter": try readFilter(value)
            case "nat": try readNAT(value)
            case "proxy": try readProxy(value)  // Topology+Proxy.swift
            default: break  // apiVersion, already read
            }
        }
        applyModeDefaults()  // Topology+Mode.swift
    }

    private mutating func note(_ cursor: YAMLCursor) { locations[cursor.path] = cursor.location }

    // MARK: - Sections

    private mutating func readTransport(_ cursor: YAMLCursor) throws(HAVPNError) {
        for (key, value) in try cursor.mapping(allowedKeys: ["network"]) {
            note(value)
            switch key {
            case "network":
                let network = try value.network()
                guard network.family == .ipv6 else {
                    throw value.error(.invalidValue, "\(network) is IPv4; the transport network must be an IPv6 /96")
                }
                guard network.prefixLength == 96 else {
                    throw value.error(
                        .invalidValue,
                        "\(network) is a /\(network.prefixLength); the transport network must be a /96"
                    )
                }
                topology.transport.network = network
            default: break
            }
        }
    }

    private mutating func readFamilies(_ cursor: YAMLCursor) throws(HAVPNError) -> [IPFamily] {
        let items = try cursor.sequence()
        guard (1...2).contains(items.count) else {
            throw cursor.error(.outOfRange, "must list 1 or 2 families (IPv4, IPv6), got \(items.count)")
        }
        var families: [IPFamily] = []
        for item in items {
            let family = try item.oneOf(IPFamily.self)
            guard !families.contains(family) else { throw item.error(.duplicate, "\(family.rawValue) is listed twice") }
            families.append(family)
        }
        return families
    }

    private mutating func readNetworks(_ cursor: YAMLCursor) throws(HAVPNError) {
        for (key, value) in try cursor.mapping(allowedKeys: ["shoot", "seedPods"]) {
            note(value)
            switch key {
            case "shoot":
                for (kind, list) in try value.mapping(allowedKeys: ["pods", "services", "nodes"]) {
                    let networks = try readNetworkList(list)
                    switch kind {
                    case "pods": topology.networks.shoot.pods = networks
                    case "services": topology.networks.shoot.services = networks
                    default: topology.networks.shoot.nodes = networks
                    }
                }
            default: topology.networks.seedPods = try readNetworkList(value)
            }
        }
    }

    private mutating func readNetworkList(_ cursor: YAMLCursor) throws(HAVPNError) -> [IPNetwork] {
        note(cursor)
        var networks: [IPNetwork] = []
        for item in try cursor.sequence() {
            note(item)
            networks.append(try item.network())
        }
        return networks
    }

    private mutating func readApiserver(_ cursor: YAMLCursor) throws(HAVPNError) -> Topology.ApiserverInstance {
        note(cursor)
        let entries = try cursor.mapping(allowedKeys: ["index", "podIPs"])
        let indexCursor = try cursor.required("index", in: entries)
        let podIPsCursor = try cursor.required("podIPs", in: entries)
        note(indexCursor)
        // The index is the last two bytes of the bond address `<transport>::a:<index>`; 0 is the network.
        let index = try indexCursor.int(in: AddressPlan.apiserverIndexRange)
        let podIPs = try podIPsCursor.addresses()
        guard !podIPs.isEmpty else { throw podIPsCursor.error(.invalidValue, "must list at least one pod IP") }
        locations.noteItems(of: podIPsCursor)
        return Topology.ApiserverInstance(index: index, podIPs: podIPs)
    }

    private mutating func readBond(_ cursor: YAMLCursor) throws(HAVPNError) {
        let keys = ["mode", "miimon", "primary", "failOverMac", "useCarrier", "numPeerNotif"]
        for (key, value) in try cursor.mapping(allowedKeys: keys) {
            note(value)
            switch key {
            case "mode": topology.bond.mode = try value.oneOf(Topology.BondMode.self)
            case "miimon": topology.bond.miimon = try value.int(in: 0...10_000)
            case "primary": topology.bond.primary = value.isNull ? nil : try value.int(in: 0...7)
            case "failOverMac": topology.bond.failOverMAC = try value.oneOf(Topology.FailOverMAC.self)
            case "useCarrier": topology.bond.useCarrier = try value.bool()
            default: topology.bond.numPeerNotif = try value.int(in: 0...255)
            }
        }
    }

    private mutating func readDevices(_ cursor: YAMLCursor) throws(HAVPNError) {
        let keys = ["bond", "tapPrefix", "apiserverTunnelPrefix", "shootTunnelPrefix", "tun"]
        for (key, value) in try cursor.mapping(allowedKeys: keys) {
            note(value)
            switch key {
            case "bond": topology.devices.bond = try DeviceNameRules.read(value, longestSuffix: "")
            case "tapPrefix": topology.devices.tapPrefix = try DeviceNameRules.read(value, longestSuffix: "7")
            case "apiserverTunnelPrefix":
                topology.devices.apiserverTunnelPrefix = try DeviceNameRules.read(value, longestSuffix: "7")
            case "tun": topology.devices.tun = try DeviceNameRules.read(value, longestSuffix: "")
            default: topology.devices.shootTunnelPrefix = try DeviceNameRules.read(value, longestSuffix: "ffff")
            }
        }
    }

    private mutating func readTimings(_ cursor: YAMLCursor) throws(HAVPNError) {
        let keys = [
            "probeInterval", "probeTimeout", "unhealthyThreshold", "healthyThreshold", "pathProbeInterval",
            "pathUnhealthyThreshold", "resyncInterval", "configPollInterval",
        ]
        let interval = Self.minimumInterval
        for (key, value) in try cursor.mapping(allowedKeys: keys) {
            note(value)
            switch key {
            case "probeInterval": topology.timings.probeInterval = try value.duration(minimum: interval)
            case "probeTimeout": topology.timings.probeTimeout = try value.duration(minimum: .milliseconds(1))
            case "unhealthyThreshold": topology.timings.unhealthyThreshold = try value.int(in: 1...100)
            case "healthyThreshold": topology.timings.healthyThreshold = try value.int(in: 1...100)
            case "pathProbeInterval": topology.timings.pathProbeInterval = try value.duration(minimum: interval)
            case "pathUnhealthyThreshold": topology.timings.pathUnhealthyThreshold = try value.int(in: 1...100)
            case "resyncInterval": topology.timings.resyncInterval = try value.duration(minimum: interval)
            default: topology.timings.configPollInterval = try value.duration(minimum: interval)
            }
        }
    }

    private mutating func readAnnouncements(_ cursor: YAMLCursor) throws(HAVPNError) {
        let keys = ["port", "interval", "format", "lifetime", "keyFile", "maxPeers"]
        for (key, value) in try cursor.mapping(allowedKeys: keys) {
            note(value)
            switch key {
            case "port": topology.announcements.port = try value.int(in: Self.portRange)
            case "interval": topology.announcements.interval = try value.duration(minimum: Self.minimumInterval)
            case "format": topology.announcements.format = try value.oneOf(Topology.AnnouncementFormat.self)
            case "lifetime": topology.announcements.lifetime = try value.duration(minimum: Self.minimumInterval)
            case "keyFile": topology.announcements.keyFile = value.isNull ? nil : try value.nonEmptyString()
            default: topology.announcements.maxPeers = try value.int(in: 1...65535)
            }
        }
    }

    private mutating func readHTTP(_ cursor: YAMLCursor) throws(HAVPNError) {
        for (key, value) in try cursor.mapping(allowedKeys: ["address", "port"]) {
            note(value)
            switch key {
            case "address": topology.http.address = try value.address().description
            default: topology.http.port = try value.int(in: Self.portRange)
            }
        }
    }

    private mutating func readOpenVPN(_ cursor: YAMLCursor) throws(HAVPNError) {
        let keys = [
            "proxyHost", "proxyPort", "serverHost", "serverPort", "proxyHeader", "proxyHeaderValue", "keepalive",
            "secretsDir", "clientProtocol", "statusFile", "verbosity", "clientConfigDir",
        ]
        for (key, value) in try cursor.mapping(allowedKeys: keys) {
            note(value)
            switch key {
            case "proxyHost": topology.openvpn.proxyHost = try value.nonEmptyString()
            case "proxyPort": topology.openvpn.proxyPort = try value.int(in: Self.portRange)
            case "serverHost": topology.openvpn.serverHost = try value.nonEmptyString()
            case "serverPort": topology.openvpn.serverPort = try value.int(in: Self.portRange)
            case "proxyHeader": topology.openvpn.proxyHeader = try value.nonEmptyString()
            case "proxyHeaderValue": topology.openvpn.proxyHeaderValue = try value.nonEmptyString()
            case "keepalive": topology.openvpn.keepalive = try Self.readKeepalive(value)
            case "clientProtocol":
                let p = try value.nonEmptyString()
                guard ["tcp-client", "tcp4-client", "tcp6-client"].contains(p) else {
                    throw value.error(.invalidValue, "\"\(p)\" is not one of tcp-client, tcp4-client, tcp6-client")
                }
                topology.openvpn.clientProtocol = p
            case "statusFile": topology.openvpn.statusFile = try value.nonEmptyString()
            case "verbosity": topology.openvpn.verbosity = try value.int(in: 0...11)
            case "clientConfigDir": topology.openvpn.clientConfigDir = try value.nonEmptyString()
            default: topology.openvpn.secretsDir = try value.nonEmptyString()
            }
        }
    }

    private mutating func readFilter(_ cursor: YAMLCursor) throws(HAVPNError) {
        for (key, value) in try cursor.mapping(allowedKeys: ["input", "forward", "backend"]) {
            note(value)
            switch key {
            case "input": topology.filter.input = try value.bool()
            case "forward": topology.filter.forward = try value.bool()
            default: topology.filter.backend = try value.oneOf(FirewallBackend.self)
            }
        }
    }

    private mutating func readNAT(_ cursor: YAMLCursor) throws(HAVPNError) {
        for (key, value) in try cursor.mapping(allowedKeys: ["masquerade", "mssClamp", "uplink"]) {
            note(value)
            switch key {
            case "masquerade": topology.nat.masquerade = try value.bool()
            case "mssClamp": topology.nat.mssClamp = try value.bool()
            default: topology.nat.uplink = try DeviceNameRules.read(value, longestSuffix: "")
            }
        }
    }

    /// OpenVPN's `keepalive <interval> <timeout>`: two positive whole seconds, written as in the directive.
    private static func readKeepalive(_ cursor: YAMLCursor) throws(HAVPNError) -> String {
        let text = try cursor.string()
        if let problem = Topology.OpenVPNSettings.keepaliveProblem(text) { throw cursor.error(.invalidValue, problem) }
        return text
    }
}
