import Glibc

/// Polls `condition` every 5 ms until it holds or `limit` passes; true when it held. For state
/// another thread changes (a reader thread, an event loop), where no event can be awaited: a
/// deadline, never a fixed sleep.
public func pollUntil(within limit: Duration = .seconds(5), _ condition: () -> Bool) -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
