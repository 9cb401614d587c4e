import Foundation
import KeelLedger
import Testing

@Suite struct AuditBundleTests {
    @Test func exportParsesBackAndVerifies() async throws {
        var chain = try ChainBuilder.chain(11)
        try chain.appendSeal()
        let bytes = try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch + 60)
        let text = bytes.utf8String
        #expect(text.hasPrefix("{\n  \"spec\": \"AISS-1.0-AUDIT\",\n  \"agent_identity\": {"))
        // Each event is written exactly as stored.
        for stamp in chain.stamps { #expect(text.contains("\n    \(stamp.text)")) }

        let bundle = try AuditBundle.parse(bytes)
        #expect(bundle.spec == "AISS-1.0-AUDIT")
        #expect(bundle.identity == chain.signer.document)
        #expect(bundle.events == chain.events)
        #expect(bundle.exportedAt == testEpoch + 60)
        #expect(bundle.chainIntegrityHash == AuditBundle.chainIntegrityHash(eventHashes: chain.stamps.map(\.hash)))
        #expect(bundle.metadata?["event_count"] == 12)

        let report = await bundle.verify(pinned: nil)
        #expect(report.isValid, "\(report.breaks)")
        #expect(report.integrityHashMatches)
        #expect(report.eventCount == 12)
        #expect(report.head?.hash == chain.stamps[11].hash)
        #expect(report.seal?.size == 11)
    }

    @Test func anEmptyExportParsesBackAndLacksItsSeal() async throws {
        let identity = SigningIdentity.generate(createdAt: testEpoch)
        let bundle = try AuditBundle.parse(try AuditBundle.export(identity: identity.document, events: [], exportedAt: testEpoch))
        #expect(bundle.events.isEmpty)
        #expect(shape(await bundle.verify(pinned: identity.key).breaks) == [Pair(index: 0, kind: .unsealedExport)])
    }

    @Test func droppedTailEventBreaksTheIntegrityHashAndTheSeal() async throws {
        var chain = try ChainBuilder.chain(5)
        try chain.appendSeal()
        var bundle = try AuditBundle.parse(try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch))
        bundle.events.removeLast()
        let report = await bundle.verify(pinned: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 5, kind: .chainIntegrityMismatch), Pair(index: 5, kind: .unsealedExport)])
        #expect(!report.integrityHashMatches)
        #expect(report.breaks[0].found == bundle.chainIntegrityHash)
    }

    @Test func identityWhoseAgentIDDoesNotDeriveFromItsKeyIsInvalid() async throws {
        var chain = try ChainBuilder.chain(3)
        try chain.appendSeal()
        var document = chain.signer.document
        document.agentID = "1111111111111111111111111111111A"
        let bundle = try AuditBundle.parse(try AuditBundle.export(identity: document, events: chain.stamps, exportedAt: testEpoch))
        let report = await bundle.verify(pinned: nil)
        #expect(shape(report.breaks) == [Pair(index: 0, kind: .invalidIdentity)])
    }

    @Test(arguments: [
        ("{\"spec\": \"AISS-1.0-AUDIT\",\n \"events\": [1,]}", "line 2, column 15"),
        ("[]", "not an AISS-1.0-AUDIT object"),
        (#"{"spec":"AISS-1.0-AUDIT","events":[],"chain_integrity_hash":"x","exported_at":1}"#, "agent_identity"),
        (#"{"spec":"AISS-2.0-AUDIT"}"#, "only AISS-1.0-AUDIT"),
        (#"{"spec":"AISS-1.0-AUDIT","agent_identity":{"version":"AISS-1.0"}}"#, "agent_identity is unusable"),
    ])
    func unreadableBundleSaysWhatAndWhere(text: String, complaint: String) {
        do {
            _ = try AuditBundle.parse(Array(text.utf8))
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.code == .malformedBundle)
            #expect(error.message.contains(complaint), "\(error.message)")
        }
    }

    @Test func pinnedKeyThatIsNotAKeyIsAnError() async throws {
        let chain = try ChainBuilder.chain(2)
        let bundle = try AuditBundle.parse(try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch))
        await #expect(throws: LedgerError.self) { try await bundle.verify(pinnedKey: "AAAA") }
    }
}

@Suite struct ParallelVerificationTests {
    /// 20,000 events with damage scattered across chunk boundaries: the parallel pass and the
    /// sequential pass must agree break for break.
    @Test func parallelVerifyOf20000EventsMatchesTheSequentialPass() async throws {
        let signer = SigningIdentity.generate(createdAt: testEpoch)
        var chain = ChainBuilder(signer: signer)
        for _ in 0..<20_000 { try chain.append() }
        var events = chain.events
        for index in [1, 2_499, 2_500, 9_999, 10_000, 17_501, 19_999] {
            events[index] = try flipByte(in: events[index], of: "step-\(index)")
        }
        events.remove(at: 12_345)
        events.swapAt(5_000, 5_001)

        let verifier = ChainVerifier(identity: signer.key, options: ChainVerifier.Options(parallelism: 8))
        let parallel = await verifier.verify(events)
        let sequential = verifier.verifySequentially(events)
        #expect(parallel == sequential)
        #expect(parallel.eventCount == 19_999)
        #expect(parallel.breaks.filter { $0.kind == .badSignature }.map(\.index) == [1, 2_499, 2_500, 9_999, 10_000, 17_500, 19_998])
        #expect(parallel.breaks.contains(Pair(index: 12_345, kind: .seqGap)))
        #expect(parallel.breaks.contains(Pair(index: 5_001, kind: .timestampRegression)))
    }
}

extension Array where Element == ChainBreak {
    func contains(_ pair: Pair) -> Bool {
        contains { $0.index == pair.index && $0.kind == pair.kind }
    }
}
