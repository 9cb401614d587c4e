import Foundation
import KeelLedger
import Testing

/// The tamper suite: each way of damaging a chain produces exactly the expected breaks.
@Suite struct ChainVerifierTests {
    func verify(_ events: [JSONValue], key: AgentKey, pinned: AgentKey? = nil) async -> ChainReport {
        await ChainVerifier(identity: key, pinned: pinned).verify(events)
    }

    @Test func untouchedChainVerifiesAndReportsItsHead() async throws {
        let chain = try ChainBuilder.chain(10)
        let key = chain.signer.key
        let report = await verify(chain.events, key: key)
        #expect(report.isValid, "\(report.breaks)")
        #expect(report.eventCount == 10)
        #expect(report.head == Checkpoint(index: 9, hash: chain.stamps[9].hash, seq: 9, timestamp: chain.stamps[9].timestamp, key: key))
        #expect(await ChainVerifier(identity: key).verify(chain.stamps).isValid)
        #expect(await ChainVerifier(identity: key).verify(texts: chain.stamps.map(\.text)).isValid)
        #expect(ChainVerifier(identity: key).verifySequentially(chain.events).isValid)
        #expect(await verify([], key: key).isValid)
    }

    @Test func payloadByteFlipIsABadSignatureThereAndAHashMismatchNext() async throws {
        let chain = try ChainBuilder.chain(10)
        var events = chain.events
        events[4] = try flipByte(in: events[4], of: "step-4")
        #expect(events[4]["payload"]?["note"] == "rtep-4")
        let report = await verify(events, key: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 4, kind: .badSignature), Pair(index: 5, kind: .hashMismatch)])
        #expect(report.breaks[0].seq == 4)
        #expect(report.breaks[1].expected == (try Stamp(event: events[4].objectValue!)).hash)
        #expect(report.breaks[1].found == chain.stamps[4].hash)
    }

    @Test func deletedEventIsASeqGapAndAHashMismatch() async throws {
        let chain = try ChainBuilder.chain(10)
        var events = chain.events
        events.remove(at: 4)
        let report = await verify(events, key: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 4, kind: .hashMismatch), Pair(index: 4, kind: .seqGap)])
        let gap = report.breaks[1]
        #expect(gap.expected == "4")
        #expect(gap.found == "5")
    }

    @Test func swappedEventsBreakLinkageSeqAndTime() async throws {
        let chain = try ChainBuilder.chain(10)
        var events = chain.events
        events.swapAt(4, 5)
        let report = await verify(events, key: chain.signer.key)
        #expect(
            shape(report.breaks) == [
                Pair(index: 4, kind: .hashMismatch), Pair(index: 4, kind: .seqGap),
                Pair(index: 5, kind: .hashMismatch), Pair(index: 5, kind: .seqGap), Pair(index: 5, kind: .timestampRegression),
                Pair(index: 6, kind: .hashMismatch), Pair(index: 6, kind: .seqGap),
            ]
        )
    }

    @Test func duplicatedEventIsAForkAndAReplayedNonce() async throws {
        let chain = try ChainBuilder.chain(10)
        var events = chain.events
        events.insert(events[4], at: 5)
        let report = await verify(events, key: chain.signer.key)
        #expect(
            shape(report.breaks) == [
                Pair(index: 5, kind: .hashMismatch), Pair(index: 5, kind: .seqGap), Pair(index: 5, kind: .fork),
                Pair(index: 5, kind: .duplicateNonce),
            ]
        )
    }

    @Test func eventResignedByAForeignKeyUnderOurAgentIDIsABadSignature() async throws {
        let chain = try ChainBuilder.chain(10)
        let foreign = SigningIdentity.generate(createdAt: testEpoch)
        var events = chain.events
        events[4] = try resign(events[4], with: foreign) { members in
            var payload = members["payload"]!.objectValue!
            payload["cost_micros"] = 1
            members["payload"] = .object(payload)
        }
        let report = await verify(events, key: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 4, kind: .badSignature), Pair(index: 5, kind: .hashMismatch)])
    }

    @Test func eventSignedByAForeignKeyUnderItsOwnAgentIDIsAnUnknownKey() async throws {
        let chain = try ChainBuilder.chain(10)
        let foreign = SigningIdentity.generate(createdAt: testEpoch)
        var events = chain.events
        events[4] = try resign(events[4], with: foreign) { $0["agent_id"] = .string(foreign.agentID) }
        let report = await verify(events, key: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 4, kind: .unknownKey), Pair(index: 5, kind: .hashMismatch)])
        #expect(report.breaks[0].expected == chain.signer.agentID)
        #expect(report.breaks[0].found == foreign.agentID)
    }

    @Test func tailRewrittenAndRelinkedByAForeignKeyIsAnUnknownKeyAtEveryRewrittenEvent() async throws {
        let chain = try ChainBuilder.chain(10)
        let foreign = SigningIdentity.generate(createdAt: testEpoch)
        var events = Array(chain.events[0..<4])
        var previous = chain.stamps[3].hash
        for original in chain.stamps[4...] {
            let forged = try Stamper.stamp(
                payload: original.payload, previousHash: previous, signer: foreign, timestamp: original.timestamp, nonce: UUID())
            events.append(forged.json)
            previous = forged.hash
        }
        let report = await verify(events, key: chain.signer.key)
        #expect(shape(report.breaks) == (4..<10).map { Pair(index: $0, kind: .unknownKey) })
    }

    @Test func wrongGenesisLinkIsAGenesisMismatch() async throws {
        let chain = try ChainBuilder.chain(5)
        var events = chain.events
        events[0] = try resign(events[0], with: chain.signer) { $0["previous_hash"] = .string(String(repeating: "0", count: 64)) }
        let report = await verify(events, key: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 0, kind: .genesisMismatch), Pair(index: 1, kind: .hashMismatch)])
        #expect(report.breaks[0].expected == chain.signer.key.genesisHash)
    }

    @Test func clockMovedBackIsATimestampRegression() async throws {
        var chain = try ChainBuilder.chain(5)
        chain.nextTimestamp -= 3
        try chain.append()
        try chain.append()
        let report = await verify(chain.events, key: chain.signer.key)
        #expect(shape(report.breaks) == [Pair(index: 5, kind: .timestampRegression)])
    }

    @Test func malformedEventsAreReportedAndVerificationContinues() async throws {
        let chain = try ChainBuilder.chain(10)
        var events = chain.events
        events[3] = try resign(events[3], with: chain.signer) { $0["nonce"] = nil }
        events[7] = "not an event"
        let report = await verify(events, key: chain.signer.key)
        #expect(
            shape(report.breaks) == [
                Pair(index: 3, kind: .malformedEvent), Pair(index: 4, kind: .hashMismatch),
                Pair(index: 7, kind: .malformedEvent), Pair(index: 8, kind: .seqGap),
            ]
        )
        #expect(report.breaks[0].message.contains("nonce"))
    }

    @Test func tornLastWriteInStoredTextIsAMalformedEvent() async throws {
        let chain = try ChainBuilder.chain(6)
        var texts = chain.stamps.map(\.text)
        texts[5] = String(texts[5].prefix(texts[5].count / 2))
        let report = await ChainVerifier(identity: chain.signer.key).verify(texts: texts)
        #expect(shape(report.breaks) == [Pair(index: 5, kind: .malformedEvent)])
        #expect(report.breaks[0].message.contains("not valid JSON"))
    }

    @Test func everyProblemIsReportedNotJustTheFirst() async throws {
        let chain = try ChainBuilder.chain(12)
        var events = chain.events
        events[2] = try flipByte(in: events[2], of: "step-2")
        events.remove(at: 8)
        let report = await verify(events, key: chain.signer.key)
        #expect(
            shape(report.breaks) == [
                Pair(index: 2, kind: .badSignature), Pair(index: 3, kind: .hashMismatch),
                Pair(index: 8, kind: .hashMismatch), Pair(index: 8, kind: .seqGap),
            ]
        )
    }

    // MARK: pinning

    @Test func fullResignWithSwappedIdentityIsValidUnpinnedAndCaughtPinned() async throws {
        var original = try ChainBuilder.chain(8)
        try original.appendSeal()
        let attacker = SigningIdentity.generate(createdAt: testEpoch)
        var forged = ChainBuilder(signer: attacker)
        for stamp in original.stamps {
            forged.nextTimestamp = stamp.timestamp
            let previous = forged.stamps.last?.hash ?? attacker.key.genesisHash
            var payload = stamp.payload
            if payload["head_hash"] != nil { payload["head_hash"] = .string(previous) }  // the seal records the forged head
            forged.stamps.append(
                try Stamper.stamp(payload: payload, previousHash: previous, signer: attacker, timestamp: stamp.timestamp, nonce: UUID()))
        }
        let bundle = try AuditBundle.parse(try AuditBundle.export(identity: attacker.document, events: forged.stamps, exportedAt: testEpoch + 100))

        let unpinned = await bundle.verify(pinned: nil)
        #expect(unpinned.isValid, "\(unpinned.breaks)")

        let pinned = try await bundle.verify(pinnedKey: original.signer.key.base64)
        #expect(!pinned.isValid)
        let first = try #require(pinned.breaks.first)
        #expect(first.index == 0)
        #expect(first.kind == .unknownKey)
        #expect(first.message.contains("identity mismatch"))
        #expect(first.expected == original.signer.agentID)
        #expect(first.found == attacker.agentID)
        #expect(
            Set(shape(pinned.breaks)).isSuperset(of: [Pair(index: 0, kind: .genesisMismatch)] + (0..<8).map { Pair(index: $0, kind: .unknownKey) }))

        let genuine = try AuditBundle.parse(
            try AuditBundle.export(identity: original.signer.document, events: original.stamps, exportedAt: testEpoch + 100))
        #expect(try await genuine.verify(pinnedKey: original.signer.key.base64).isValid)
        #expect(try await genuine.verify(pinnedKey: try original.signer.document.encoded().utf8String).isValid)
    }

    // MARK: appends and checkpoints

    @Test func appendCheckIsLocalToTheHead() throws {
        var chain = try ChainBuilder.chain(3)
        let head = chain.stamps[2]
        let next = try chain.append()
        let key = chain.signer.key
        #expect(ChainVerifier.verifyAppend(previous: head, next: next, at: 3, signer: key).isEmpty)

        let stale = chain.stamps[1]
        #expect(
            shape(ChainVerifier.verifyAppend(previous: stale, next: next, at: 3, signer: key)) == [
                Pair(index: 3, kind: .hashMismatch), Pair(index: 3, kind: .seqGap),
            ])

        let other = SigningIdentity.generate(createdAt: testEpoch)
        let foreign = try Stamper.stamp(payload: next.payload, previousHash: head.hash, signer: other, timestamp: next.timestamp, nonce: UUID())
        #expect(shape(ChainVerifier.verifyAppend(previous: head, next: foreign, at: 3, signer: key)) == [Pair(index: 3, kind: .unknownKey)])
    }

    @Test func verificationResumesFromACheckpointAndSeesOnlyWhatFollows() async throws {
        var chain = try ChainBuilder.chain(20)
        let checkpoint = try chain.append(Checkpoint.eventType, extra: Checkpoint.payload(seq: 20, size: 20, headHash: chain.stamps[19].hash))
        for _ in 0..<9 { try chain.append() }
        let key = chain.signer.key
        let verifier = ChainVerifier(identity: key)
        #expect(await verifier.verify(chain.events).isValid)
        #expect(
            Checkpoint.Record(payload: checkpoint.payload)
                == Checkpoint.Record(payload: ["event_type": "checkpoint", "size": 20, "head_hash": .string(chain.stamps[19].hash)]))

        let anchor = Checkpoint(trusting: checkpoint, at: 20, signer: key)
        let suffix = Array(chain.events[21...])
        let resumed = await verifier.verify(suffix, from: anchor)
        #expect(resumed.isValid, "\(resumed.breaks)")
        #expect(resumed.eventCount == 9)
        #expect(resumed.head?.index == 29)
        #expect(resumed.head?.hash == chain.stamps[29].hash)

        var tampered = suffix
        tampered[4] = try flipByte(in: tampered[4], of: "step-25")
        let caught = await verifier.verify(tampered, from: anchor)
        #expect(shape(caught.breaks) == [Pair(index: 25, kind: .badSignature), Pair(index: 26, kind: .hashMismatch)])

        #expect(await verifier.verify([JSONValue](), from: anchor).head == anchor)

        let wrongAnchor = Checkpoint(index: 20, hash: chain.stamps[19].hash, seq: 20, timestamp: checkpoint.timestamp, key: key)
        #expect(shape(await verifier.verify(suffix, from: wrongAnchor).breaks) == [Pair(index: 21, kind: .hashMismatch)])
    }

    @Test func checkpointThatMiscountsTheEventsBeforeItIsCaught() async throws {
        var chain = try ChainBuilder.chain(5)
        try chain.append(Checkpoint.eventType, extra: Checkpoint.payload(seq: 5, size: 4, headHash: chain.stamps[4].hash))
        let report = await ChainVerifier(identity: chain.signer.key).verify(chain.events)
        #expect(shape(report.breaks) == [Pair(index: 5, kind: .seqGap)])
    }

    // MARK: key rotation

    @Test func rotationHandsOverToTheNewKeyAndOldEventsStillVerify() async throws {
        var chain = try ChainBuilder.chain(5)
        let old = chain.signer
        let new = SigningIdentity.generate(createdAt: testEpoch + 5)
        let rotation = KeyRotation(previous: old.key, next: new.key, rotationTimestamp: chain.nextTimestamp)
        try chain.append(KeyRotation.eventType, extra: rotation.payload(seq: 5))
        chain.signer = new
        for _ in 0..<4 { try chain.append() }

        let report = await ChainVerifier(identity: old.key).verify(chain.events)
        #expect(report.isValid, "\(report.breaks)")
        #expect(report.head?.key == new.key)
        #expect(chain.stamps[0..<6].allSatisfy { $0.isSigned(by: old.key) && $0.agentID == old.agentID })
        #expect(chain.stamps[6...].allSatisfy { $0.isSigned(by: new.key) && $0.agentID == new.agentID })
        #expect(try KeyRotation(payload: chain.stamps[5].payload) == rotation)
        #expect(ChainVerifier(identity: old.key).verifySequentially(chain.events) == report)
    }

    @Test func eventSignedByTheOldKeyAfterRotationIsAnUnknownKey() async throws {
        var chain = try ChainBuilder.chain(5)
        let old = chain.signer
        let new = SigningIdentity.generate(createdAt: testEpoch + 5)
        try chain.append(KeyRotation.eventType, extra: KeyRotation(previous: old.key, next: new.key, rotationTimestamp: testEpoch).payload(seq: 5))
        chain.signer = new
        try chain.append()
        try chain.append(signer: old)
        try chain.append()
        let report = await ChainVerifier(identity: old.key).verify(chain.events)
        #expect(shape(report.breaks) == [Pair(index: 7, kind: .unknownKey)])
        #expect(report.breaks[0].expected == new.agentID)
        #expect(report.breaks[0].found == old.agentID)
    }

    @Test func rotationSignedByAnyoneButTheCurrentKeyAuthorisesNothing() async throws {
        var chain = try ChainBuilder.chain(5)
        let old = chain.signer
        let intruder = SigningIdentity.generate(createdAt: testEpoch)
        try chain.append(
            KeyRotation.eventType, extra: KeyRotation(previous: intruder.key, next: intruder.key, rotationTimestamp: testEpoch).payload(seq: 5),
            signer: intruder)
        chain.signer = intruder
        try chain.append()
        let report = await ChainVerifier(identity: old.key).verify(chain.events)
        #expect(shape(report.breaks) == [Pair(index: 5, kind: .unknownKey), Pair(index: 6, kind: .unknownKey)])
    }
}
