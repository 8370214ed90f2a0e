import Logging
import Testing

@testable import HAVPNService

@Suite struct JSONLogHandlerQuoteTests {
    @Test func plainTextIsQuoted() {
        #expect(JSONLogHandler.quote("hello") == #""hello""#)
        #expect(JSONLogHandler.quote("") == #""""#)
    }

    @Test func quotesAndBackslashesAreEscaped() {
        #expect(JSONLogHandler.quote(#"say "hi""#) == #""say \"hi\"""#)
        #expect(JSONLogHandler.quote(#"C:\dir"#) == #""C:\\dir""#)
    }

    @Test func controlCharactersAreEscaped() {
        #expect(JSONLogHandler.quote("a\nb\rc\td") == #""a\nb\rc\td""#)
        #expect(JSONLogHandler.quote("\u{0}\u{1}\u{1b}\u{1f}") == #""\u0000\u0001\u001b\u001f""#)
    }

    @Test func nonASCIIIsKept() {
        #expect(JSONLogHandler.quote("→ é 🚀") == "\"→ é 🚀\"")
        #expect(JSONLogHandler.quote("\u{7f}") == "\"\u{7f}\"")
    }
}

@Suite struct JSONLogHandlerTypedValueTests {
    @Test func numbersBooleansAndDurationsStayTyped() {
        #expect(JSONLogHandler.json(.stringConvertible(42)) == "42")
        #expect(JSONLogHandler.json(.stringConvertible(UInt16(7))) == "7")
        #expect(JSONLogHandler.json(.stringConvertible(true)) == "true")
        #expect(JSONLogHandler.json(.stringConvertible(0.5)) == "0.5")
        #expect(JSONLogHandler.json(.stringConvertible(Duration.milliseconds(9) + .microseconds(700))) == "0.0097")
        // A non-finite number is not JSON: it becomes a string.
        #expect(JSONLogHandler.json(.stringConvertible(Double.nan)) == #""nan""#)
    }

    @Test func stringsListsAndDictionaries() {
        #expect(JSONLogHandler.json("0.0097 seconds") == #""0.0097 seconds""#)
        #expect(JSONLogHandler.json(.array([.stringConvertible(1), "a"])) == #"[1,"a"]"#)
        #expect(
            JSONLogHandler.json(.dictionary(["b": "x", "a": .stringConvertible(false)])) == #"{"a":false,"b":"x"}"#
        )
    }

    @Test func timestampsHaveMilliseconds() {
        #expect(
            LogTimestamp.now().wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil,
            "\(LogTimestamp.now())"
        )
    }
}

/// The two handlers share the metadata handling (``StandardErrorLogHandler``) and differ in the line.
@Suite struct LogHandlerLineTests {
    static let event = LogEvent(
        level: .notice,
        message: "started",
        metadata: ["b": "event", "c": .stringConvertible(3)],
        source: nil,
        file: #fileID,
        function: #function,
        line: #line
    )

    @Test func jsonLineHasTheFieldsThenTheMetadataInKeyOrder() {
        var handler = JSONLogHandler(label: "havpn")
        handler[metadataKey: "a"] = "handler"
        #expect(handler[metadataKey: "a"] == "handler")
        let line = handler.line(for: Self.event, metadata: ["a": "handler", "b": "event", "c": .stringConvertible(3)])
        #expect(line.hasPrefix(#"{"ts":""#))
        #expect(line.hasSuffix(#","level":"notice","label":"havpn","msg":"started","a":"handler","b":"event","c":3}"#))
    }

    @Test func humanLineHasTheMetadataInKeyOrder() {
        let line = HumanLogHandler(label: "havpn").line(for: Self.event, metadata: ["b": "event", "a": "handler"])
        #expect(line.hasSuffix(" notice havpn: started a=handler b=event"))
    }
}
