import HAVPNModel

/// Pure state machines of the run loop's controllers. No I/O, no clock: values in, actions out,
/// time passed in as ``Instant``.
///
/// - apiserver side: ``PathController`` (which shoot client carries the routes),
///   ``AnnouncementScheduler`` (when to announce / withdraw);
/// - shoot side: ``TunnelRegistry`` (which apiservers exist, from announcements);
/// - every side with a bond: ``ServerPathController`` (which tap the bond uses);
/// - shared: ``ProbeMonitor``, ``HealthHysteresis``, ``PathSelector``, ``AnnouncementCodec``,
///   ``HMACSHA256`` (swift-crypto), ``ReconcileTrigger``.
public enum HAVPNControl {}
