import HAVPNModel

/// TEMPORARY stand-in until the netlink branch lands.
public final class NetworkNamespace {
    public static func run<T>(in name: String?, _ body: () throws(HAVPNError) -> T) throws(HAVPNError) -> T {
        try body()
    }
}
