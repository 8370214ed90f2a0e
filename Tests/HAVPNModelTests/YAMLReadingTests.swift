import HAVPNModel
import Testing

/// How YAML text becomes typed values: the key's schema decides, YAML 1.1's tag guessing does not, and
/// libyaml's structures that a topology never needs (aliases beyond a cap, tags, depth, size) are bounded.
@Suite struct YAMLReadingTests {
    private func decode(_ yaml: String) throws -> Topology {
        try TopologyDecoder.decode(yaml: yaml, file: "t.yaml")
    }

    private func message(_ yaml: String) -> String? {
        do {
            _ = try TopologyDecoder.decode(yaml: yaml, file: "t.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    // MARK: - Scalars typed by the key

    @Test(arguments: ["no", "yes", "on", "off", "y", "n", "NO", "On", "1_000", "0b11", "12:30", "=", "<<"])
    func yaml11SpellingsAreTextWhereAStringIsExpected(text: String) throws {
        let t = try decode("apiVersion: havpn/v1\nopenvpn:\n  proxyHost: \(text)\n  proxyHeaderValue: \(text)\n")
        #expect(t.openvpn.proxyHost == text)
        #expect(t.openvpn.proxyHeaderValue == text)
    }

    @Test func deviceNamedNoIsADevice() throws {
        #expect(try decode("apiVersion: havpn/v1\ndevices: {bond: no}\n").devices.bond == "no")
    }

    /// YAML 1.2's own null, booleans and numbers are still refused for strings (likely mistakes; quote them).
    @Test(arguments: [
        ("0", "integer 0"), ("0x10", "integer 0x10"), ("1e3", "number 1e3"), (".inf", "number .inf"),
        ("true", "boolean true"), ("~", "null"), ("null", "null"),
    ])
    func coreSchemaNonStringsAreRefusedForStrings(text: String, found: String) {
        #expect(
            message("apiVersion: havpn/v1\nopenvpn:\n  proxyHost: \(text)\n")
                == "t.yaml:3:14: error[wrong-type]: openvpn.proxyHost: expected a string, got \(found)"
        )
    }

    @Test func quotedSpellingsAreAlwaysStrings() throws {
        let t = try decode("apiVersion: havpn/v1\nopenvpn: {proxyHost: \"0x10\", proxyHeaderValue: '~'}\n")
        #expect(t.openvpn.proxyHost == "0x10")
        #expect(t.openvpn.proxyHeaderValue == "~")
        #expect(
            try decode("apiVersion: havpn/v1\nannouncements: {keyFile: \"null\"}\n").announcements.keyFile == "null"
        )
        #expect(try decode("apiVersion: havpn/v1\nopenvpn: {proxyHost: !!str 1e3}\n").openvpn.proxyHost == "1e3")
    }

    /// The integers accepted are exactly the ones accepted before: optional sign, decimal digits, no
    /// leading zero.
    @Test(arguments: ["0x10", "0o10", "010", "1_000", "0b11", "1:30", "+0x1"])
    func otherIntegerNotationsAreRefused(text: String) {
        #expect(
            message("apiVersion: havpn/v1\nservers: \(text)\n")
                == "t.yaml:2:10: error[invalid-value]: servers: expected a decimal integer, got \"\(text)\""
        )
    }

    @Test func decimalIntegersWithSignAreRead() throws {
        #expect(try decode("apiVersion: havpn/v1\nservers: +3\n").servers == 3)
        #expect(try decode("apiVersion: havpn/v1\nbond: {miimon: 0}\n").bond.miimon == 0)
    }

    @Test(arguments: [
        ("1e3", "number 1e3"), ("no", "string \"no\""), ("\"2\"", "string \"2\""), ("~", "null"), ("[2]", "a list"),
        ("!!str 2", "string \"2\""),
    ])
    func nonIntegersAreWrongType(text: String, found: String) {
        #expect(
            message("apiVersion: havpn/v1\nservers: \(text)\n")
                == "t.yaml:2:10: error[wrong-type]: servers: expected an integer, got \(found)"
        )
    }

    @Test func nullableKeysTakeNullSpellings() throws {
        let t = try decode("apiVersion: havpn/v1\nmtu: null\nbond: {primary: ~}\nannouncements:\n  keyFile:\n")
        #expect(t.mtu == nil)
        #expect(t.bond.primary == nil)
        #expect(t.announcements.keyFile == nil)
    }

    @Test(arguments: [("yes", true), ("on", true), ("True", true), ("no", false), ("OFF", false), ("false", false)])
    func booleanKeysKeepTheirSpellings(text: String, value: Bool) throws {
        #expect(try decode("apiVersion: havpn/v1\nbond: {useCarrier: \(text)}\n").bond.useCarrier == value)
    }

    @Test func booleanKeyRefusesNumbers() {
        #expect(
            message("apiVersion: havpn/v1\nbond: {useCarrier: 1}\n")
                == "t.yaml:2:20: error[wrong-type]: bond.useCarrier: expected a boolean, got integer 1"
        )
    }

    @Test func keySpelledNoIsAnUnknownKeyNotABoolean() {
        #expect(
            message("apiVersion: havpn/v1\nno: 1\n")?.hasPrefix(
                "t.yaml:2:1: error[unknown-key]: no: unknown key \"no\""
            ) == true
        )
        #expect(
            message("apiVersion: havpn/v1\n~: 1\n") == "t.yaml:2:1: error[wrong-type]: keys must be strings, got null"
        )
    }

    // MARK: - Structure

    @Test func aliasesResolveToTheAnchoredValue() throws {
        let yaml = """
            apiVersion: havpn/v1
            timings: {probeInterval: &fast 200ms, pathProbeInterval: *fast}
            networks: {shoot: {pods: &pods [10.3.0.0/16]}}
            apiservers: [{index: 1, podIPs: [10.1.0.5]}, {index: 2, podIPs: &ips [10.1.0.6]}]
            """
        let t = try decode(yaml)
        #expect(t.timings.probeInterval == .milliseconds(200))
        #expect(t.timings.pathProbeInterval == .milliseconds(200))
        #expect(t.networks.shoot.pods.map(\.description) == ["10.3.0.0/16"])
    }

    @Test func billionLaughsStopsAtTheExpansionCap() {
        var yaml = "apiVersion: havpn/v1\nopenvpn:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            yaml +=
                "  a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
                + "]\n"
        }
        let error = message(yaml) ?? ""
        #expect(error.hasPrefix("t.yaml:7:"), "\(error)")
        #expect(error.contains("error[yaml-syntax]: aliases expand to more than 100000 nodes"), "\(error)")
    }

    @Test func undefinedAndSelfReferringAliasesAreErrors() {
        #expect(
            message("apiVersion: havpn/v1\nservers: *nope\n")
                == "t.yaml:2:10: error[yaml-syntax]: found undefined alias \"*nope\""
        )
        #expect(message("apiVersion: havpn/v1\nipFamilies: &l [*l]\n")?.contains("undefined alias \"*l\"") == true)
    }

    @Test func duplicateKeysAreFoundInNestedMappings() {
        #expect(
            message("apiVersion: havpn/v1\nbond:\n  miimon: 1\n  mode: balance-rr\n  miimon: 2\n")
                == "t.yaml:3:3: error[duplicate]: key \"miimon\" appears more than once in this mapping (this is the first)"
        )
    }

    @Test func secondDocumentAfterAnExplicitEndIsRefused() {
        #expect(
            message("apiVersion: havpn/v1\n...\n---\nservers: 2\n")
                == "t.yaml:3:1: error[yaml-syntax]: found a second YAML document; a topology file holds exactly one"
        )
    }

    @Test func explicitTagsOtherThanStrAreRefused() {
        #expect(
            message("apiVersion: havpn/v1\nservers: !!int 2\n")
                == "t.yaml:2:10: error[yaml-syntax]: the tag \"tag:yaml.org,2002:int\" is not supported; havpn types each value by its key (quote a value to keep it a string)"
        )
    }

    @Test func deepNestingIsRefusedWithoutRecursion() {
        let depth = 100_000
        let yaml =
            "apiVersion: havpn/v1\nopenvpn: " + String(repeating: "[", count: depth)
            + String(repeating: "]", count: depth)
        #expect(message(yaml)?.contains("error[yaml-syntax]: nesting is deeper than 64 levels") == true)
    }

    @Test func oversizedInputIsRefusedBeforeParsing() {
        let yaml = "apiVersion: havpn/v1\n" + String(repeating: "#", count: 17 << 20)
        #expect(message(yaml)?.hasPrefix("t.yaml:1:1: error[yaml-syntax]: the file is 17825813 bytes") == true)
    }

    @Test func readerErrorColumnsCountCharactersNotBytes() {
        // "é" is two bytes; libyaml reports the control character by byte offset.
        #expect(
            message("apiVersion: havpn/v1\n# é\u{01}\n")
                == "t.yaml:2:4: error[yaml-syntax]: control characters are not allowed"
        )
    }

    @Test func tenThousandPodIPsKeepTheirPositions() throws {
        var yaml = "apiVersion: havpn/v1\napiservers:\n  - index: 1\n    podIPs:\n"
        for i in 0..<10_000 { yaml += "      - 10.\(1 + i / 65536).\(i / 256 % 256).\(i % 256)\n" }
        yaml += "      - 10.1.0.0\n"
        #expect(
            message(yaml)
                == "t.yaml:10005:9: error[duplicate]: apiservers[0].podIPs[10000]: 10.1.0.0 is already listed as apiservers[0].podIPs[0]"
        )
        yaml.removeLast("      - 10.1.0.0\n".count)
        #expect(try decode(yaml).apiservers[0].podIPs.count == 10_000)
    }

    /// Pod IPs are read from the node's bytes when they are dotted quads; everything else goes the way of any
    /// address, with the same values and messages.
    @Test func podIPsReadLikeAnyAddress() throws {
        let list = #"[10.1.0.5, "10.1.0.6", 'fd00::1', '::ffff:10.1.0.7', !!str 10.1.0.8]"#
        let t = try decode("apiVersion: havpn/v1\napiservers:\n  - {index: 1, podIPs: \(list)}\n")
        #expect(
            t.apiservers[0].podIPs.map(\.description) == [
                "10.1.0.5", "10.1.0.6", "fd00::1", "::ffff:a01:7", "10.1.0.8",
            ]
        )
        for (item, found) in [
            ("1", "got integer 1"), ("~", "got null"), ("[1.2.3.4]", "got a list"), ("1.5", "got number 1.5"),
        ] {
            #expect(
                message("apiVersion: havpn/v1\napiservers:\n  - {index: 1, podIPs: [10.1.0.5, \(item)]}\n")
                    == "t.yaml:3:35: error[wrong-type]: apiservers[0].podIPs[1]: expected a string, \(found)"
            )
        }
        #expect(
            message("apiVersion: havpn/v1\napiservers:\n  - {index: 1, podIPs: [10.1.0.5, 010.1.0.6]}\n")
                == #"t.yaml:3:35: error[invalid-value]: apiservers[0].podIPs[1]: "010.1.0.6" is not an IPv4 or IPv6 address"#
        )
        #expect(
            message("apiVersion: havpn/v1\napiservers:\n  - {index: 1, podIPs: [10.1.0.5, fd00::1, 'fd00::1']}\n")
                == "t.yaml:3:44: error[duplicate]: apiservers[0].podIPs[2]: fd00::1 is already listed as apiservers[0].podIPs[1]"
        )
    }
}
