import Foundation
import HAVPNModel
import Testing

@Suite struct BadInputCorpusTests {
    @Test func corpusIsLargeAndComplete() throws {
        let inputs = BadInput.all
        #expect(inputs.count >= 35)
        for input in inputs {
            #expect(FileManager.default.fileExists(atPath: input.expectedURL.path), "\(input.name) has no .expected")
        }
    }

    @Test(arguments: BadInput.all)
    func decoderPrintsExpectedError(input: BadInput) throws {
        let actual = try input.decoderMessage()
        let expected = try input.expectedMessage()
        #expect(actual == expected)
    }

    /// Every error code a topology file can produce is exercised by at least one corpus file.
    @Test func everyFileErrorCodeIsCovered() throws {
        let codes: [HAVPNError.Code] = [
            .yamlSyntax, .unknownKey, .missingKey, .wrongType, .invalidValue, .outOfRange, .overlap, .duplicate,
            .nameTooLong, .unsupportedVersion,
        ]
        let messages = try BadInput.all.compactMap { try $0.expectedMessage() }
        for code in codes {
            #expect(messages.contains { $0.contains("error[\(code)]") }, "no corpus file for \(code)")
        }
    }
}
