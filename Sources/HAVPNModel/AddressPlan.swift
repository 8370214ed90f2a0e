/// The pure address and device-name plan, compatible with vpn2's defaults (`pkg/network/ip.go`).
///
/// Byte indices refer to the 16-byte IPv6 address. With the default transport `fd8f:6d53:b97a:1::/96`:
///
/// | Purpose                         | Rule                                   | Default                       |
/// |---------------------------------|----------------------------------------|-------------------------------|
/// | OpenVPN tap subnet of server i  | byte 12 = 0x01, byte 13 = i, /112      | `…:1::100:0/112`, `…::101:0/112` |
/// | bond network                    | bytes 0-12 of the transport, /104      | `fd8f:6d53:b97a:1::/104`      |
/// | shoot client j's bond address   | byte 13 = 0x0b, byte 14 = 0, byte 15 = j | `…:1::b:0`, `…:1::b:1`      |
/// | apiserver x's bond address      | byte 13 = 0x0a, bytes 14-15 = x        | `…:1::a:1` … `…:1::a:ffff`    |
///
/// The transport is validated as an IPv6 /96 by the topology decoder; this type only computes.
public struct AddressPlan: Hashable, Sendable {
    public let topology: Topology
    public init(topology: Topology) { self.topology = topology }

    /// Prefix length of every bond address (vpn2 `bondPrefixSize`).
    public static let bondPrefixLength = 104
    /// Prefix length of one server's OpenVPN tap subnet (vpn2 `vpnTunnelPrefixSize`).
    public static let tapSubnetPrefixLength = 112
    /// Apiserver bond indices live in 1...0xffff (index 0 would be the `::a:0` network-like address).
    public static let apiserverIndexRange = 1...0xffff
    /// Shoot client indices are one byte in the address.
    public static let shootClientIndexRange = 0...0xff

    static let tapSubnetMarker: UInt8 = 0x01
    static let apiserverMarker: UInt8 = 0x0a
    static let shootClientMarker: UInt8 = 0x0b

    // MARK: - Networks and addresses

    /// The /96 transport network.
    public var transportNetwork: IPNetwork { topology.transport.network }

    /// The transport's 16 bytes; an IPv4 transport (rejected by the decoder) reads as all zeros
    /// rather than trapping, so a bad file yields a wrong plan, never a crash.
    private var transportBytes: [UInt8] {
        if case .v6(let a) = topology.transport.network.address { return a.bytes }
        return Array(repeating: 0, count: 16)
    }

    private func address(byte13: UInt8, byte14: UInt8, byte15: UInt8, byte12: UInt8? = nil) -> IPv6Address {
        var b = transportBytes
        if let byte12 { b[12] = byte12 }
        b[13] = byte13
        b[14] = byte14
        b[15] = byte15
        return IPv6Address(bytes: b)
    }

    /// The OpenVPN tap subnet of server `index` (vpn2 `HAVPNTunnelNetwork`).
    public func tapSubnet(server index: Int) -> IPNetwork {
        precondition((0...0xff).contains(index), "server index \(index) does not fit one byte")
        let a = address(byte13: UInt8(index), byte14: 0, byte15: 0, byte12: Self.tapSubnetMarker)
        return IPNetwork(address: .v6(a), prefixLength: Self.tapSubnetPrefixLength)
    }

    /// The /104 network holding every bond address.
    public var bondNetwork: IPNetwork { Self.bondNetwork(transport: topology.transport.network) }

    /// The /104 bond network of a /96 transport network.
    public static func bondNetwork(transport: IPNetwork) -> IPNetwork {
        IPNetwork(address: transport.address, prefixLength: bondPrefixLength)
    }

    /// Shoot client `index`'s bond address, `…::b:<index>` (vpn2 `BondingShootClientIP`).
    public func shootClientBondAddress(_ index: Int) -> IPv6Address {
        precondition(Self.shootClientIndexRange.contains(index), "shoot client index \(index) out of 0...255")
        return address(byte13: Self.shootClientMarker, byte14: 0, byte15: UInt8(index))
    }

    /// Apiserver `index`'s bond address, `…::a:<index>` with index in 1...0xffff.
    public func apiserverBondAddress(_ index: Int) -> IPv6Address {
        precondition(Self.apiserverIndexRange.contains(index), "apiserver index \(index) out of 1...65535")
        return address(byte13: Self.apiserverMarker, byte14: UInt8(index >> 8), byte15: UInt8(index & 0xff))
    }

    /// The bond address of a pod, or nil for the server role (which has no bond).
    public func bondAddress(of identity: Identity) -> IPv6Address? {
        switch identity.role {
        case .apiserver: apiserverBondAddress(identity.index)
        case .shoot: shootClientBondAddress(identity.index)
        case .server: nil
        }
    }

    // MARK: - Inverse helpers (for announcements and peers)

    public func isInBondNetwork(_ address: IPv6Address) -> Bool {
        bondNetwork.contains(.v6(address))
    }

    public func isInBondNetwork(_ address: IPAddress) -> Bool {
        bondNetwork.contains(address)
    }

    /// x for `…::a:x` (x in 1...0xffff) inside the bond network; nil for anything else.
    public func apiserverIndex(ofBondAddress address: IPv6Address) -> Int? {
        guard isInBondNetwork(address) else { return nil }
        return Self.apiserverIndex(ofAddressInBondNetwork: address)
    }

    /// x for an address already known to lie in a bond network and to read `…::a:x` (x in 1...0xffff).
    public static func apiserverIndex(ofAddressInBondNetwork address: IPv6Address) -> Int? {
        let b = address.bytes
        guard b[13] == apiserverMarker else { return nil }
        let x = Int(b[14]) << 8 | Int(b[15])
        return apiserverIndexRange.contains(x) ? x : nil
    }

    /// j for `…::b:j` (byte 14 zero) inside the bond network; nil for anything else.
    public func shootClientIndex(ofBondAddress address: IPv6Address) -> Int? {
        guard isInBondNetwork(address) else { return nil }
        let b = address.bytes
        guard b[13] == Self.shootClientMarker, b[14] == 0 else { return nil }
        return Int(b[15])
    }

    // MARK: - Device names

    public var bondName: String { topology.devices.bond }

    /// `tap<i>`: the openvpn client for server i uses `dev tap<i>`.
    public func tapName(server index: Int) -> String { Self.tapName(prefix: topology.devices.tapPrefix, server: index) }

    public static func tapName(prefix: String, server index: Int) -> String { prefix + String(index) }

    /// The server index of a device named like a tap (`<prefix><digits>`), nil for any other name.
    public static func tapServer(ofDevice name: String, prefix: String) -> Int? {
        guard name.hasPrefix(prefix) else { return nil }
        let digits = name.dropFirst(prefix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// Linux IFNAMSIZ - 1: the longest interface name the kernel accepts.
    public static let maxInterfaceNameLength = DeviceNameRules.maximumLength

    /// apiserver side: `bond0-ip6tnl<j>` towards shoot client j.
    public func apiserverTunnelName(shootClient index: Int) -> String {
        topology.devices.apiserverTunnelPrefix + String(index)
    }

    /// shoot side: `bond0ip6tnl%02x%02x` of the last two bytes of the peer's bond address, which is
    /// exactly 15 characters (IFNAMSIZ - 1) with the default prefix (vpn2 PR #125).
    public func shootTunnelName(peer: IPv6Address) -> String {
        let b = peer.bytes
        return topology.devices.shootTunnelPrefix + Self.hexByte(b[14]) + Self.hexByte(b[15])
    }

    static func hexByte(_ v: UInt8) -> String {
        let s = String(v, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
