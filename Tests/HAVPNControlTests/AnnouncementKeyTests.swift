import HAVPNControl
import HAVPNModel
import Testing

@Suite struct AnnouncementKeyTests {
    static let secret = Array("hunter2-hunter2".utf8)

    /// Every text form of the key, and of the configurations that hold it, hides the bytes.
    @Test func everyDescriptionIsRedacted() {
        let key = AnnouncementKey(Self.secret)
        let registry = TunnelRegistry.Configuration(topology: Topology(), key: key)
        var dumped = ""
        dump(registry, to: &dumped)
        let texts = [
            "\(key)", String(describing: key), String(reflecting: key), "\(registry)", String(reflecting: registry), dumped,
        ]
        let decimal = Self.secret.prefix(4).map(String.init).joined(separator: ", ")
        for text in texts {
            #expect(!text.contains("hunter2"), "\(text)")
            #expect(!text.contains(decimal), "\(text)")
        }
        #expect(texts[0] == "<redacted 15-byte key>")
        #expect(Mirror(reflecting: key).children.isEmpty)
        #expect(key.bytes == Self.secret)
    }
}
