import HAVPNControl
import Testing

@Suite struct ReconcileBackoffTests {
    @Test func doublesFromHalfASecondUpToThirtySecondsAndResetsOnSuccess() {
        var b = ReconcileBackoff()
        #expect(b.allows(at: .zero) && b.delay == .zero && b.retryAt == nil)
        var now = Instant.zero
        var waits: [Duration] = []
        for _ in 0..<10 {
            let wait = b.failed(at: now)
            waits.append(wait)
            #expect(b.retryAt == now + wait)
            #expect(!b.allows(at: now + wait - .nanoseconds(1)))
            now = now + wait
            #expect(b.allows(at: now))
        }
        #expect(
            waits == [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16),
                .seconds(30), .seconds(30), .seconds(30), .seconds(30),
            ]
        )
        #expect(b.consecutiveFailures == 10)
        b.succeeded()
        #expect(b.consecutiveFailures == 0 && b.delay == .zero && b.allows(at: now))
        #expect(b.failed(at: now) == .milliseconds(500))
    }

    @Test func aVeryLongRunOfFailuresStaysAtTheCap() {
        var b = ReconcileBackoff(configuration: .init(initial: .milliseconds(1), maximum: .seconds(30)))
        for i in 0..<10_000 { b.failed(at: Instant(nanoseconds: Int64(i))) }
        #expect(b.delay == .seconds(30))
    }

    @Test func expediteLiftsTheWaitButKeepsTheCount() {
        var b = ReconcileBackoff()
        b.failed(at: .zero)
        b.failed(at: .zero)
        #expect(!b.allows(at: .zero))
        b.expedite()
        #expect(b.allows(at: .zero))
        #expect(b.consecutiveFailures == 2)
        #expect(b.failed(at: .zero) == .seconds(2))
    }
}
