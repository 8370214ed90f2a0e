import HAVPNModel

/// Pure state machines of the run loop's controllers (path-controller, tunnel-controller,
/// announcements). STUB: implemented by the controller work.
public enum HAVPNControl {}
