import HAVPNModel

/// Renders openvpn configs from the topology. STUB: implemented by the fabric work.
public enum OpenVPNConfig {}
