import Foundation
import KeelLedger
import Testing

/// A signature verifies only in its one canonical base64 spelling: another spelling of the same
/// 64 bytes is a change to the stored event, and whoever could make it without the key could
/// change stored bytes unseen.
@Suite struct SignatureEncodingTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// The same 64 bytes with other unused bits: a 64-byte signature ends in one byte spelled as
    /// two characters and `==`, and the second character's low four bits carry nothing.
    static func respelled(_ signature: String) throws -> String {
        var characters = Array(signature)
        guard characters.count == 88, characters.suffix(2) == ["=", "="], let index = alphabet.firstIndex(of: characters[85]) else {
            throw FixtureError("\(signature) is not the base64 of 64 bytes")
        }
        characters[85] = alphabet[index ^ 0x05]
        return String(characters)
    }

    static func withSignature(_ stamp: Stamp, _ signature: String) throws -> Stamp {
        var event = stamp.event
        event["signature"] = .string(signature)
        return try Stamp(event: event)
    }

    @Test func aRespelledSignatureDecodesToTheSameBytesButDoesNotVerify() throws {
        let chain = try ChainBuilder.chain(3)
        let stamp = chain.stamps[1]
        let respelled = try Self.respelled(stamp.signature)
        // Foundation's lenient decoder reads both spellings as the same signature: that is the hole.
        #expect(Data(base64Encoded: respelled) == Data(base64Encoded: stamp.signature))
        #expect(respelled != stamp.signature)

        #expect(stamp.isSigned(by: chain.signer.key))
        let forged = try Self.withSignature(stamp, respelled)
        #expect(forged.hash == stamp.hash, "the hash does not cover the signature, so only the signature check can see this")
        #expect(!forged.isSigned(by: chain.signer.key))
    }

    @Test(arguments: ["respelled", "unpadded", "line break", "trailing newline", "leading space"])
    func aSignatureNotInCanonicalBase64IsABadSignatureThereAndNowhereElse(variant: String) async throws {
        let chain = try ChainBuilder.chain(8)
        let signature = chain.stamps[4].signature
        let spelled: String
        switch variant {
        case "respelled": spelled = try Self.respelled(signature)
        case "unpadded": spelled = String(signature.dropLast(2))
        case "line break": spelled = String(signature.prefix(76)) + "\n" + String(signature.dropFirst(76))
        case "trailing newline": spelled = signature + "\n"
        default: spelled = " " + signature
        }
        var events = chain.events
        events[4] = try Self.withSignature(chain.stamps[4], spelled).json

        let report = await ChainVerifier(identity: chain.signer.key).verify(events)
        #expect(shape(report.breaks) == [Pair(index: 4, kind: .badSignature)], "\(report.breaks)")
        #expect(report.breaks.first?.seq == 4)
        #expect(report.breaks.first?.message.contains("not canonical base64") == true, "\(report.breaks)")
        #expect(ChainVerifier(identity: chain.signer.key).verifySequentially(events).breaks.map(\.kind) == [.badSignature])
    }

    @Test func aBundleWithARespelledSignatureIsBrokenAtThatEvent() async throws {
        let chain = try ChainBuilder.chain(6)
        var stamps = chain.stamps
        stamps[2] = try Self.withSignature(stamps[2], try Self.respelled(stamps[2].signature))
        let bytes = try AuditBundle.export(identity: chain.signer.document, events: stamps, exportedAt: testEpoch + 60)
        // A chain of Keel-shaped stamps without an export seal: the seal is not what this is about.
        let report = await (try AuditBundle.parse(bytes)).verify(pinned: chain.signer.key, sealRequired: false)
        // The seal covers the event hashes, which leave the signature out: only the signature check sees it.
        #expect(shape(report.breaks) == [Pair(index: 2, kind: .badSignature)], "\(report.breaks)")

        let untouched = try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch + 60)
        #expect(await (try AuditBundle.parse(untouched)).verify(pinned: chain.signer.key, sealRequired: false).isValid)
    }
}
