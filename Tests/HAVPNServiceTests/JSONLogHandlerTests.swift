@testable import HAVPNService
import Testing

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
