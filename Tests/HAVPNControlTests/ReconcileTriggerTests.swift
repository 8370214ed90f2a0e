import HAVPNControl
import PropertyBased
import Testing

@Suite struct ReconcileTriggerTests {
    /// The default window is 5 ms of quiet: a second trigger 3 ms after the first moves the run to 8 ms.
    @Test func coalescesABurstWithinTheWindow() {
        var t = ReconcileTrigger()
        #expect(t.deadline == nil && t.tick(at: .zero) == nil)
        t.trigger(.drift(.link), at: .zero)
        t.trigger(.drift(.route), at: .ms(3))
        #expect(t.deadline == .ms(8))
        #expect(t.tick(at: .ms(7)) == nil)
        let run = t.tick(at: .ms(8))
        #expect(run?.reasons == [.drift(.link), .drift(.route)] && run?.fullResync == false && run?.triggerCount == 2)
        #expect(!t.isPending)
    }

    @Test func aSteadyStreamRunsAtMaxDelay() {
        var t = ReconcileTrigger()
        var now = Instant.zero
        var run: ReconcileTrigger.Run?
        while run == nil {
            t.trigger(.controllerInput, at: now)
            now += .milliseconds(4)
            run = t.tick(at: now)
        }
        #expect(now == .ms(100) && run?.firstTriggerAt == .zero && run?.triggerCount == 25)
    }

    @Test func overflowAndTimerRequestFullResync() {
        var t = ReconcileTrigger()
        t.trigger(.configChanged, at: .zero)
        t.trigger(.netlinkOverflow, at: .ms(1))
        #expect(t.tick(at: .ms(6))?.fullResync == true)
        t.trigger(.timer, at: .ms(30))
        #expect(t.tick(at: .ms(50))?.fullResync == true)
    }

    /// Law: whatever the arrival pattern, every trigger is served by a run that starts no later
    /// than `maxDelay` after it, and no run starts earlier than `window` after its last trigger
    /// unless `maxDelay` forced it.
    /// A 20 ms window, so that streams of gaps up to 40 ms reach `maxDelay` as often as they end by the window.
    @Test func noTriggerWaitsLongerThanMaxDelay() async {
        await propertyCheck(input: Gen.int(in: 0...40).array(of: 1...60)) { gaps in
            var t = ReconcileTrigger(configuration: .init(window: .milliseconds(20)))
            var now = Instant.zero
            var pendingSince: Instant?
            var lastTrigger = Instant.zero
            func serve(until end: Instant) {
                while let d = t.deadline, d <= end {
                    guard let run = t.tick(at: d), let since = pendingSince else {
                        Issue.record("at its deadline \(d): no run, or a run with nothing pending")
                        return
                    }
                    #expect(d - since <= .milliseconds(100))
                    #expect(d - lastTrigger >= .milliseconds(20) || d - run.firstTriggerAt == .milliseconds(100))
                    pendingSince = nil
                }
            }
            for g in gaps {
                serve(until: now + .milliseconds(Int64(g)))
                now += .milliseconds(Int64(g))
                t.trigger(.drift(.address), at: now)
                lastTrigger = now
                if pendingSince == nil { pendingSince = now }
            }
            serve(until: now + .seconds(1))
            #expect(!t.isPending)
        }
    }
}
