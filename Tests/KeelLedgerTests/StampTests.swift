import Foundation
import KeelLedger
import Testing

@Suite struct StampTests {
    @Test func genesisLinksToTheSignersPublicKeyAndIsSigned() throws {
        let signer = SigningIdentity.generate(createdAt: testEpoch)
        let nonce = UUID()
        let stamp = try Stamper.stampGenesis(payload: ["event_type": "ledger_opened", "seq": 0], signer: signer, timestamp: testEpoch, nonce: nonce)
        #expect(stamp.previousHash == signer.key.genesisHash)
        #expect(stamp.version == "AISS-1.0")
        #expect(stamp.agentID == signer.agentID)
        #expect(stamp.nonce == nonce.uuidString.lowercased())
        #expect(stamp.timestamp == testEpoch)
        #expect(stamp.isSigned(by: signer.key))
        #expect(!stamp.isSigned(by: SigningIdentity.generate(createdAt: testEpoch).key))
        #expect(ChainVerifier.verifyGenesis(stamp, signer: signer.key).isEmpty)
    }

    @Test func textIsTheCanonicalEventAndParsesBackToTheSameStamp() throws {
        var chain = try ChainBuilder.chain(2)
        let stamp = try chain.append("cost_event", extra: ["cost_micros": 2_500_000, "model": "sonnet", "tokens": ["input": 1200, "output": 300]])
        #expect(try CanonicalJSON.encode(stamp.json).utf8String == stamp.text)
        #expect(stamp.text.hasPrefix("{\"agent_id\":"))
        #expect(stamp.text.contains("\"payload\":{\"cost_micros\":2500000,\"event_type\":\"cost_event\","))
        let parsed = try Stamp.parse(stamp.text)
        #expect(parsed == stamp)
        #expect(parsed.hash == stamp.hash)
        #expect(parsed.seq == 2)
        #expect(parsed.eventType == "cost_event")
        #expect(parsed.isSigned(by: chain.signer.key))
    }

    /// (That the hash is aiss `compute_event_hash` is checked against aiss in the interop tests.)
    @Test func hashCoversTheCanonicalEventWithoutSignatureAndLinksTheNext() throws {
        let chain = try ChainBuilder.chain(1)
        let stamp = chain.stamps[0]
        guard case .object(var members) = stamp.json else { throw FixtureError("not an object") }
        members["signature"] = nil
        let unsigned = try CanonicalJSON.encode(.object(members))
        #expect(stamp.signedBytes == unsigned)
        #expect(stamp.hash.count == 64)
        #expect(!stamp.text.contains(stamp.hash))
        var builder = chain
        let next = try builder.append()
        #expect(next.previousHash == stamp.hash)
    }

    @Test(arguments: [
        (["seq": 1] as JSONObject, "event_type"),
        (["event_type": "x"] as JSONObject, "seq"),
        (["event_type": "x", "seq": "1"] as JSONObject, "seq"),
        (["event_type": "x", "seq": 1, "cost": 1.5] as JSONObject, "payload.cost"),
        (["event_type": "x", "seq": 1, "nested": ["ok": ["caf\u{E9}": 1]]] as JSONObject, "not ASCII"),
        (["event_type": "x", "seq": 1, "big": .integer(9_007_199_254_740_992)] as JSONObject, "payload.big is 9007199254740992, beyond"),
        (["event_type": "x", "seq": 1, "big": .integer(-9_007_199_254_740_992)] as JSONObject, "payload.big is -9007199254740992, beyond"),
        (["event_type": "x", "seq": 1, "l": [.bigInteger("12345678901234567890123")]] as JSONObject, "payload.l[0] is 12345678901234567890123,"),
    ])
    func payloadRulesAreEnforcedWhenStamping(payload: JSONObject, complaint: String) {
        let signer = SigningIdentity.generate(createdAt: testEpoch)
        do {
            _ = try Stamper.stampGenesis(payload: payload, signer: signer, timestamp: testEpoch, nonce: UUID())
            Issue.record("stamped \(payload)")
        } catch {
            #expect(error.code == .invalidPayload)
            #expect(error.message.contains(complaint), "\(error.message)")
        }
    }

    @Test func unicodeStringValuesAreAllowed() throws {
        let signer = SigningIdentity.generate(createdAt: testEpoch)
        let stamp = try Stamper.stampGenesis(
            payload: ["event_type": "note", "seq": 0, "text": "café ✓ 😀 / \"q\""], signer: signer, timestamp: testEpoch, nonce: UUID())
        #expect(try Stamp.parse(stamp.text).payload["text"] == "café ✓ 😀 / \"q\"")
    }

    @Test func nonRandomNonceIsRefused() {
        let signer = SigningIdentity.generate(createdAt: testEpoch)
        let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        #expect(throws: LedgerError.self) {
            try Stamper.stampGenesis(payload: ["event_type": "x", "seq": 0], signer: signer, timestamp: testEpoch, nonce: zero)
        }
    }

    @Test func stampParseRefusesAnEventMissingAField() throws {
        let chain = try ChainBuilder.chain(1)
        guard case .object(var members) = chain.stamps[0].json else { throw FixtureError("not an object") }
        members["nonce"] = nil
        #expect {
            _ = try Stamp(event: members)
        } throws: { error in
            (error as? LedgerError)?.message.contains("nonce") == true
        }
        #expect(throws: LedgerError.self) { try Stamp.parse("{\"version\":") }
    }
}
