import HAVPNControl
import HAVPNModel
import PropertyBased
import Testing

@Suite struct PathBeaconTests {
    @Test func requestAndReplyRoundTrip() async {
        await propertyCheck(input: Gen.int(in: 0...0xffff), Gen.int(in: 0...7), Gen.int(in: 0...0xffff)) {
            index,
            server,
            seq in
            let request = PathBeacon(
                kind: .request,
                role: .apiserver,
                index: index,
                server: server,
                sequence: UInt16(seq)
            )
            #expect(PathBeacon(bytes: request.bytes) == request)
            let reply = request.reply(role: .shoot, index: 1)
            let decoded = PathBeacon(bytes: reply.bytes)
            #expect(decoded == reply)
            #expect(decoded?.requester?.role == .apiserver)
            #expect(decoded?.requester?.index == index)
            #expect(decoded?.sequence == UInt16(seq))
        }
    }

    @Test func rejectsForeignFrames() {
        #expect(PathBeacon(bytes: []) == nil)
        #expect(PathBeacon(bytes: Array("HAVX".utf8) + [1, 1, 1, 0, 1, 0, 0, 1]) == nil)
        #expect(PathBeacon(bytes: Array("HAVB".utf8) + [2, 1, 1, 0, 1, 0, 0, 1]) == nil)  // version 2
        #expect(PathBeacon(bytes: Array("HAVB".utf8) + [1, 2, 1, 0, 1, 0, 0, 1]) == nil)  // reply without requester
        #expect(PathBeacon(bytes: Array("HAVB".utf8) + [1, 1, 9, 0, 1, 0, 0, 1]) == nil)  // unknown role
    }

    @Test func everyBondedPodAnswersButOnlyTheOppositeRoleProvesThePath() {
        #expect(PathBeacon.answers(.apiserver, requestFrom: .shoot))
        #expect(PathBeacon.answers(.shoot, requestFrom: .apiserver))
        #expect(PathBeacon.answers(.apiserver, requestFrom: .apiserver))
        #expect(PathBeacon.answers(.shoot, requestFrom: .shoot))
        #expect(!PathBeacon.answers(.server, requestFrom: .shoot))
        #expect(!PathBeacon.answers(.shoot, requestFrom: .server))
        #expect(PathBeacon.provesPath(for: .apiserver, replyFrom: .shoot))
        #expect(PathBeacon.provesPath(for: .shoot, replyFrom: .apiserver))
        #expect(!PathBeacon.provesPath(for: .apiserver, replyFrom: .apiserver))
        #expect(!PathBeacon.provesPath(for: .shoot, replyFrom: .shoot))
    }
}
