import HAVPNModel
import Testing

/// The CLI and the side-car decode the file's bytes as read, with no `String` made of them first.
@Suite struct TopologyBytesTests {
    private let yaml = "apiVersion: havpn/v1\n# a comment in UTF-8: Grüße\nbond: {miimon: 50}\n"

    @Test func bytesDecodeAsTheirText() throws {
        let fromBytes = try TopologyDecoder.decode(yaml: Array(yaml.utf8), file: "t.yaml")
        #expect(fromBytes == (try TopologyDecoder.decode(yaml: yaml, file: "t.yaml")))
        #expect(fromBytes.bond.miimon == 50)
    }

    /// An empty file (an empty array, whose storage libyaml must still be handed) is the empty document.
    @Test func noBytesAreTheEmptyDocument() {
        let error = #expect(throws: HAVPNError.self) { try TopologyDecoder.decode(yaml: [UInt8](), file: "t.yaml") }
        #expect(error?.description.contains("the document is empty") == true)
    }

    /// A `String` would have turned the stray bytes into U+FFFD and accepted the file; libyaml's reader
    /// refuses them and says where: at the byte it could not take (a byte offset, given as line and column).
    @Test(arguments: [
        ([0xFF, 0x0A] as [UInt8], "invalid leading UTF-8 octet", "t.yaml:2:4:"),
        ([0xC3, 0x28, 0x0A] as [UInt8], "invalid trailing UTF-8 octet", "t.yaml:2:5:"),
        ([0xE2, 0x82] as [UInt8], "incomplete UTF-8 octet sequence", "t.yaml:2:4:"),
    ])
    func bytesThatAreNotUTF8AreRefusedWithTheirPlace(bad: [UInt8], problem: String, place: String) {
        let bytes = Array("apiVersion: havpn/v1\n# x".utf8) + bad
        let error = #expect(throws: HAVPNError.self) { try TopologyDecoder.decode(yaml: bytes, file: "t.yaml") }
        #expect(error?.code == .yamlSyntax)
        #expect(error?.description.contains(problem) == true)
        #expect(error?.description.contains(place) == true)
    }
}
