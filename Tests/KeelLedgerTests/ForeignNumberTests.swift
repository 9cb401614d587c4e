import Foundation
import Testing

@testable import KeelLedger

/// Chains another implementation signed with integers beyond ±(2^53 − 1) (some beyond 64 bits):
/// an RFC 8785 signer hashes them as their nearest double, `aiss-standard` with every digit.
/// Keel verifies either, links each event by the hash of the form its signature verified in,
/// and catches a change.
@Suite struct ForeignNumberTests {
    /// An AISS-1.0 event signed over its canonical form in `dialect`, and its hash in that form.
    func signedEvent(
        _ payload: JSONObject, previous: String, signer: SigningIdentity, timestamp: Int64, dialect: CanonicalJSON.Dialect
    ) throws -> (event: JSONValue, hash: String) {
        var members: JSONObject = [
            "version": "AISS-1.0", "agent_id": .string(signer.key.agentID), "timestamp": .integer(timestamp),
            "nonce": .string(UUID().uuidString.lowercased()), "payload": .object(payload), "previous_hash": .string(previous),
        ]
        let bytes = try CanonicalJSON.encode(.object(members), dialect: dialect)
        members["signature"] = .string(Data(try signer.signature(for: bytes)).base64EncodedString())
        return (.object(members), sha256Hex(bytes))
    }

    func chain(signedIn dialect: CanonicalJSON.Dialect) throws -> (signer: SigningIdentity, events: [JSONValue], head: String) {
        let signer = SigningIdentity.generate(createdAt: testEpoch)
        var events: [JSONValue] = []
        var previous = signer.key.genesisHash
        for seq in 0..<4 {
            let payload: JSONObject = [
                "event_type": "transfer", "seq": .integer(Int64(seq)),
                "amount": try JSONValue.parse("1234567890123456789012\(seq)"),
                "limits": try JSONValue.parse("[-18446744073709551616, 9007199254740993, 9223372036854775807, 1180591620717411303424]"),
            ]
            let made = try signedEvent(payload, previous: previous, signer: signer, timestamp: testEpoch + Int64(seq), dialect: dialect)
            events.append(made.event)
            previous = made.hash
        }
        return (signer, events, previous)
    }

    /// Replaces `old` by `new` in the event's text (in aiss's form, where every digit is kept).
    func edit(_ event: JSONValue, _ old: String, _ new: String) throws -> JSONValue {
        let text = String(decoding: try CanonicalJSON.encode(event, dialect: .aissPython), as: UTF8.self)
        #expect(text.contains(old))
        return try JSONValue.parse(text.replacingOccurrences(of: old, with: new))
    }

    @Test(arguments: [CanonicalJSON.Dialect.rfc8785, .aissPython])
    func aChainSignedWithIntegersBeyond64BitsVerifiesInTheFormItWasSignedIn(dialect: CanonicalJSON.Dialect) async throws {
        let chain = try chain(signedIn: dialect)
        let report = await ChainVerifier(identity: chain.signer.key).verify(chain.events)
        #expect(report.isValid, "\(report.breaks)")
        #expect(report.head?.hash == chain.head, "the head is the hash the signer linked to")

        // Another amount (another double): broken there and at the next link.
        var changed = chain.events
        changed[2] = try edit(changed[2], "12345678901234567890122", "22345678901234567890122")
        let broken = await ChainVerifier(identity: chain.signer.key).verify(changed)
        #expect(shape(broken.breaks) == [Pair(index: 2, kind: .badSignature), Pair(index: 3, kind: .hashMismatch)], "\(broken.breaks)")
    }

    @Test func aDigitChangedInAnAissChainBreaksItEvenWhenTheDoubleIsTheSame() async throws {
        let chain = try chain(signedIn: .aissPython)
        var changed = chain.events
        changed[1] = try edit(changed[1], "12345678901234567890121", "12345678901234567890129")
        #expect(
            try CanonicalJSON.encode(changed[1]) == CanonicalJSON.encode(chain.events[1]), "both literals are the same double in RFC 8785")
        let broken = await ChainVerifier(identity: chain.signer.key).verify(changed)
        #expect(shape(broken.breaks) == [Pair(index: 1, kind: .badSignature), Pair(index: 2, kind: .hashMismatch)], "\(broken.breaks)")
    }
}
