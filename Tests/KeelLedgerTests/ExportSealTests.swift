import Foundation
import KeelLedger
import Testing

/// The seal that puts an export's size under signature: which bundles must end with it, and
/// what a bundle without it is (pure decisions, no I/O).
@Suite struct ExportSealTests {
    static let keelMetadata: JSONValue = ["exporter": "keel", "standard": "AISS-1.0"]
    static let aissMetadata: JSONValue = ["exporter": "aiss/2.0.0", "standard": "https://aiss-standard.org"]

    /// A foreign agent's events: payloads aiss accepts and Keel never writes (a float, no seq).
    static func foreignEvents(_ count: Int) -> [JSONValue] {
        (0..<count).map { index in ["payload": ["action": "trade", "confidence": .number(Double(index) / 16 + 0.5)]] }
    }

    // MARK: provenance

    @Test func aBundleIsKeelsByItsExporterOrByPayloadsThatFollowKeelsRules() throws {
        let keelEvents = try ChainBuilder.chain(3).events
        #expect(ExportSeal.provenance(metadata: Self.keelMetadata, events: Self.foreignEvents(3), sealRequired: nil) == .keel(reason: "its metadata.exporter is \"keel\""))
        // Metadata is unsigned: renaming the exporter does not change what the signed payloads are.
        #expect(
            ExportSeal.provenance(metadata: Self.aissMetadata, events: keelEvents, sealRequired: nil)
                == .keel(reason: "every event's payload follows Keel's payload rules"))
        #expect(ExportSeal.provenance(metadata: nil, events: keelEvents, sealRequired: nil) != .foreign)
        #expect(ExportSeal.provenance(metadata: Self.aissMetadata, events: Self.foreignEvents(3), sealRequired: nil) == .foreign)
        // One event that is not Keel's is enough to make the bundle foreign.
        #expect(ExportSeal.provenance(metadata: nil, events: keelEvents + Self.foreignEvents(1), sealRequired: nil) == .foreign)
        let noSeq: JSONValue = ["payload": ["event_type": "step", "note": "n"]]
        #expect(ExportSeal.provenance(metadata: nil, events: [noSeq], sealRequired: nil) == .foreign)
    }

    @Test func aBundleWithNoEventsCountsAsKeels() {
        #expect(ExportSeal.provenance(metadata: Self.aissMetadata, events: [], sealRequired: nil) != .foreign)
    }

    @Test func theCallerCanForceTheDecisionEitherWay() throws {
        let keelEvents = try ChainBuilder.chain(3).events
        #expect(ExportSeal.provenance(metadata: Self.aissMetadata, events: Self.foreignEvents(2), sealRequired: true) != .foreign)
        #expect(ExportSeal.provenance(metadata: Self.keelMetadata, events: keelEvents, sealRequired: false) == .foreign)
    }

    // MARK: verdict

    @Test func aChainEndingWithItsExportCheckpointIsSealed() throws {
        var chain = try ChainBuilder.chain(5)
        try chain.appendSeal()
        #expect(
            ExportSeal.verdict(events: chain.events, metadata: Self.keelMetadata, sealRequired: nil)
                == .sealed(ExportSeal(index: 5, seq: 5, size: 5, headHash: chain.stamps[4].hash)))
        // Sealed is sealed whoever made it.
        guard case .sealed = ExportSeal.verdict(events: chain.events, metadata: Self.aissMetadata, sealRequired: false) else {
            Issue.record("a sealed chain with sealRequired false is not sealed")
            return
        }
    }

    @Test func keelsExportCutBeforeItsSealIsAnUnsealedExportBreak() throws {
        var chain = try ChainBuilder.chain(5)
        try chain.appendSeal()
        let cut = Array(chain.events.prefix(3))
        guard case .unsealed(let brk) = ExportSeal.verdict(events: cut, metadata: Self.keelMetadata, sealRequired: nil) else {
            Issue.record("a cut Keel export is not an unsealed_export break")
            return
        }
        #expect(brk.kind == .unsealedExport && brk.index == 3 && brk.seq == nil)
        #expect(brk.message.contains("does not end with its signed checkpoint, so it may have been cut"), "\(brk.message)")
        #expect(brk.found == "a state_transition event at position 2")
    }

    @Test func anExportEndingWithAPeriodicCheckpointIsNotSealed() throws {
        var chain = try ChainBuilder.chain(4)
        let head = chain.stamps[3].hash
        try chain.append(Checkpoint.eventType, extra: ["size": 4, "head_hash": .string(head)])
        let verdict = ExportSeal.verdict(events: chain.events, metadata: Self.keelMetadata, sealRequired: nil)
        guard case .unsealed(let brk) = verdict else {
            Issue.record("an export ending with a periodic checkpoint passed as sealed: \(verdict)")
            return
        }
        #expect(brk.found == "a checkpoint event at position 4")
    }

    @Test func aSealWhoseSizeIsNotItsPositionIsUnsealed() throws {
        var chain = try ChainBuilder.chain(5)
        try chain.appendSeal()
        var events = chain.events
        events.remove(at: 1)
        guard case .unsealed(let brk) = ExportSeal.verdict(events: events, metadata: Self.keelMetadata, sealRequired: nil) else {
            Issue.record("a seal that records 5 events with 4 before it passed")
            return
        }
        #expect(brk.message.contains("records 5 events before it, but 4 precede it"), "\(brk.message)")
    }

    @Test func anEmptyExportIsUnsealed() {
        guard case .unsealed(let brk) = ExportSeal.verdict(events: [], metadata: Self.aissMetadata, sealRequired: nil) else {
            Issue.record("an empty bundle passed")
            return
        }
        #expect(brk.index == 0 && brk.found == "no events")
        #expect(brk.message.contains("has no events, not even its signed checkpoint"))
    }

    @Test func aForeignBundleWithoutASealGetsAWarningNotABreak() {
        let verdict = ExportSeal.verdict(events: Self.foreignEvents(4), metadata: Self.aissMetadata, sealRequired: nil)
        guard case .unsealedForeign(let warning) = verdict else {
            Issue.record("a foreign bundle was judged \(verdict)")
            return
        }
        #expect(warning.contains("events cut from its end cannot be detected"))
        // Forced, the same bundle must be sealed.
        guard case .unsealed = ExportSeal.verdict(events: Self.foreignEvents(4), metadata: Self.aissMetadata, sealRequired: true) else {
            Issue.record("sealRequired true did not require the seal")
            return
        }
    }

    // MARK: through AuditBundle.verify

    @Test func aCutExportWithARecomputedIntegrityHashFailsOnlyForItsMissingSeal() async throws {
        var chain = try ChainBuilder.chain(8)
        let seal = try chain.appendSeal()
        var bundle = try AuditBundle.parse(try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch))
        let whole = await bundle.verify(pinned: chain.signer.key)
        #expect(whole.isValid && whole.warnings.isEmpty, "\(whole.breaks)")
        #expect(whole.seal?.size == 8 && whole.seal?.index == 8 && whole.seal?.headHash == chain.stamps[7].hash)
        #expect(seal.payload["scope"] == "export")

        bundle.events = Array(bundle.events.prefix(5))
        bundle.chainIntegrityHash = AuditBundle.chainIntegrityHash(eventHashes: chain.stamps.prefix(5).map(\.hash))
        let cut = await bundle.verify(pinned: chain.signer.key)
        #expect(shape(cut.breaks) == [Pair(index: 5, kind: .unsealedExport)])
        #expect(cut.seal == nil)

        let unforced = await bundle.verify(pinned: chain.signer.key, sealRequired: false)
        #expect(unforced.isValid && unforced.warnings.count == 1)
    }

    @Test func aForgedSealIsCaughtByTheChainVerifier() async throws {
        // A seal signed by another key: the seal is there, its signature is not the signer's.
        var chain = try ChainBuilder.chain(4)
        let forger = SigningIdentity.generate(createdAt: testEpoch)
        let head = chain.stamps[3].hash
        let forged = try Stamper.stamp(
            payload: ExportSeal.payload(seq: 4, size: 4, headHash: head), previousHash: head, signer: forger, timestamp: testEpoch + 10, nonce: UUID())
        chain.stamps.append(forged)
        let bundle = try AuditBundle.parse(try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch))
        let report = await bundle.verify(pinned: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 4, kind: .unknownKey)], "\(report.breaks)")
    }
}
