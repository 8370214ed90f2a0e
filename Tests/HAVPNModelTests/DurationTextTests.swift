import HAVPNModel
import Testing

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("2s", .seconds(2)),
        ("10m", .seconds(600)),
        ("1h", .seconds(3600)),
        ("1m30s", .seconds(90)),
        ("1h2m3s4ms", .milliseconds(3_723_004)),
        ("0s", .zero),
        ("90s", .seconds(90)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: [
        "", "5", "s", "ms", "1.5s", "-1s", "+1s", "1 s", " 1s", "1s ", "1d", "1S", "1sec", "1s1m", "1s2s",
        "1ms1s", "99999999999999999999h", "9223372036854775807h",
    ])
    func rejects(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(200), "200ms"),
        (.seconds(90), "1m30s"),
        (.seconds(3600), "1h"),
        (.zero, "0s"),
        (.milliseconds(3_723_004), "1h2m3s4ms"),
    ])
    func formats(duration: Duration, expected: String) {
        #expect(DurationText.format(duration) == expected)
        #expect(DurationText.parse(expected) == duration)
    }
}
