import Foundation
import KeelCore
import KeelLedger
import KeelStore
import KeelTestSupport
import Testing

/// The ledger as the store writes it: one stamp per change, in the change's own transaction.
@Suite struct LedgerStoreTests {
    let dir: TemporaryDirectory
    var path: String { dir.path + "/keel.sqlite" }
    let clock = ManualWallClock()
    let signer = SigningIdentity.generate(createdAt: 1_790_000_000)

    init() throws { dir = try TemporaryDirectory(prefix: "keel-ledger-store") }

    func store(checkpointEvery: Int64 = 1000, signer: SigningIdentity? = nil) throws -> SQLiteStore {
        try SQLiteStore(
            path: path, ledger: LedgerSettings(signer: signer ?? self.signer, checkpointEvery: checkpointEvery, checkpointSeconds: 3600))
    }

    func texts(_ store: SQLiteStore) async throws -> [String] {
        try await store.ledgerEvents(after: 0, limit: nil).map(\.event)
    }

    func verify(_ store: SQLiteStore) async throws -> ChainReport {
        await ChainVerifier(identity: signer.key).verify(texts: try await texts(store))
    }

    /// Runs SQL on the file from outside Keel, as an attacker or a careless operator would.
    func tamper(_ sql: String) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", path, sql]
        try process.run()
        // Waited for off the cooperative pool: blocking one of its threads holds back other tests' timers.
        try await offPool { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
    }

    func walk(_ store: SQLiteStore, title: String) async throws -> WorkItem {
        _ = try await store.createItem(NewItem(repo: "r", title: title, body: "b"), actor: "t", now: clock.now())
        var (item, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        for outcome: Outcome in [.claimed, .developed, .pushed, .checksPassed, .inspectionPassed, .mergeCompleted] {
            (item, lease) = try await store.transition(lease, on: outcome, reason: outcome.rawValue, actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
        }
        return item
    }

    @Test func everyTransitionAndRunIsStampedAndTheChainVerifies() async throws {
        let store = try store()
        let item = try await walk(store, title: "a")
        let run = try await store.startAgentRun(itemID: item.id, attempt: 1, stage: "develop", agent: "sample", command: "c", transcriptPath: nil, promptSHA256: "p", now: clock.now())
        try await store.finishAgentRun(run, exitCode: 0, outcome: "success", cost: CostEvent(model: "m", turns: 2, costMicros: 1234), now: clock.now())
        let events = try await store.ledgerEvents(after: 0, limit: nil)
        #expect(events.map(\.kind) == Array(repeating: "state_transition", count: 7) + ["agent_run", "cost_event"])
        #expect(events.map(\.seq) == Array(1...9))
        let transitions = try await store.transitions(of: item.id)
        for (event, transition) in zip(events, transitions) {
            let stamp = try Stamp.parse(event.event)
            #expect(stamp.payload["transition_id"]?.integerValue == transition.id)
            #expect(stamp.payload["to_state"]?.stringValue == transition.to.rawValue)
            #expect(stamp.hash == event.hash)
        }
        let cost = try Stamp.parse(events[8].event)
        #expect(cost.payload["cost_micros"]?.integerValue == 1234)
        let report = try await verify(store)
        #expect(report.isValid, "\(report.breaks)")
        #expect(try await store.ledgerStatus(now: clock.now()) == .valid)
    }

    @Test func aRefusedTransitionLeavesNoStamp() async throws {
        let store = try store()
        _ = try await store.createItem(NewItem(repo: "r", title: "a", body: "b"), actor: "t", now: clock.now())
        let (_, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        await #expect(throws: StoreError.self) {
            try await store.transition(lease, on: .mergeCompleted, reason: "skip", actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
        }
        #expect(try await store.ledgerCount() == 1)
    }

    /// 000_*: a server restart orphaned the first event after it. A ledger that keeps its head in
    /// memory breaks on restart; Keel reads the head inside the append's transaction.
    @Test func theFirstEventAfterARestartIsNotOrphaned() async throws {
        // The naive design: the head hash lives in the process, initialised at start.
        final class NaiveLedger {
            var head: String
            var seq: Int64 = 0
            var events: [String] = []
            let signer: SigningIdentity
            init(signer: SigningIdentity, events: [String]) {
                self.signer = signer
                self.events = events
                self.head = signer.key.genesisHash  // what a process that just started knows
                self.seq = Int64(events.count)
            }
            func append(_ kind: String) throws {
                seq += 1
                let stamp = try Stamper.stamp(payload: ["event_type": .string(kind), "seq": .integer(seq)], previousHash: head, signer: signer, timestamp: 1_790_000_000, nonce: UUID())
                events.append(stamp.text)
                head = stamp.hash
            }
        }
        let naive = NaiveLedger(signer: signer, events: [])
        for _ in 0..<3 { try naive.append("state_transition") }
        let restarted = NaiveLedger(signer: signer, events: naive.events)
        try restarted.append("state_transition")
        let naiveReport = await ChainVerifier(identity: signer.key).verify(texts: restarted.events)
        #expect(naiveReport.breaks.contains { $0.index == 3 && $0.kind == .hashMismatch }, "the naive design should orphan event 4")

        // Keel: the same story with a real restart (a new store object on the same file).
        do {
            let before = try store()
            _ = try await before.createItem(NewItem(repo: "r", title: "before restart", body: "b"), actor: "t", now: clock.now())
        }
        let after = try store()
        _ = try await after.createItem(NewItem(repo: "r", title: "after restart", body: "b"), actor: "t", now: clock.now())
        let report = try await verify(after)
        #expect(report.isValid, "\(report.breaks)")
        #expect(try await after.ledgerCount() == 2)
    }

    @Test func twoProcessesAppendingConcurrentlyNeverFork() async throws {
        let stores = [try store(), try store()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<8 {
                let s = stores[w % 2]
                group.addTask {
                    for i in 0..<10 { _ = try await s.createItem(NewItem(repo: "r", title: "w\(w)-\(i)", body: "b"), actor: "w\(w)", now: Date()) }
                }
            }
            try await group.waitForAll()
        }
        let events = try await stores[0].ledgerEvents(after: 0, limit: nil)
        #expect(events.count == 80)
        #expect(events.map(\.seq) == Array(1...80))
        let report = try await verify(stores[0])
        #expect(report.isValid, "\(report.breaks)")
    }

    @Test func checkpointsAreWrittenEveryNEvents() async throws {
        let store = try store(checkpointEvery: 5)
        for i in 0..<12 { _ = try await store.createItem(NewItem(repo: "r", title: "\(i)", body: "b"), actor: "t", now: clock.now()) }
        let events = try await store.ledgerEvents(after: 0, limit: nil)
        let checkpoints = events.filter { $0.kind == "checkpoint" }
        #expect(checkpoints.map(\.seq) == [6, 12])
        let first = try Stamp.parse(checkpoints[0].event)
        #expect(first.payload["size"]?.integerValue == 5)
        #expect(first.payload["head_hash"]?.stringValue == events[4].hash)
        #expect(try await verify(store).isValid)
        #expect(try await store.lastCheckpoint()?.seq == 12)
    }

    @Test func aTamperedHeadIsDetectedOnTheNextAppendAndTheChainKeepsRunning() async throws {
        let store = try store()
        _ = try await store.createItem(NewItem(repo: "r", title: "a", body: "b"), actor: "t", now: clock.now())
        _ = try await store.createItem(NewItem(repo: "r", title: "b", body: "b"), actor: "t", now: clock.now())
        try await tamper("UPDATE ledger_events SET event = replace(event, '\"submitted\"', '\"approved\"') WHERE seq = 2")
        _ = try await store.createItem(NewItem(repo: "r", title: "c", body: "b"), actor: "t", now: clock.now())
        let breaks = try await store.ledgerBreaks()
        #expect(breaks.map(\.kind).contains("hash_mismatch"))
        #expect(breaks.map(\.kind).contains("bad_signature"))
        #expect(breaks.allSatisfy { $0.seq == 2 && $0.detectionSeq != nil })
        let kinds = try await store.ledgerEvents(after: 0, limit: nil).map(\.kind)
        #expect(kinds.filter { $0 == "chain_break_detected" }.count == breaks.count)
        #expect(kinds.last == "state_transition", "the change that found the break is still recorded")
        #expect(try await store.ledgerStatus(now: clock.now()) == .breakPending)
        // The same damage found again is not a second break.
        #expect(try await store.recordBreaks(breaks.map { DetectedBreak(seq: $0.seq, kind: $0.kind, expected: $0.expected, found: $0.found, message: $0.message) }, now: clock.now()).isEmpty)
    }

    @Test func aDecisionCoversTheBytesItWasMadeOnAndALaterEditIsANewBreak() async throws {
        let store = try store()
        for title in ["a", "b", "c"] { _ = try await store.createItem(NewItem(repo: "r", title: title, body: "b"), actor: "t", now: clock.now()) }
        let signature = DetectedBreak(seq: 2, kind: "bad_signature", expected: "a valid signature", found: "one that does not verify", message: "edited")
        try await tamper("UPDATE ledger_events SET event = replace(event, '\"submitted\"', '\"approved\"') WHERE seq = 2")
        let first = try #require(try await store.recordBreaks([signature], now: clock.now()).first)
        let stamped = try #require(try await store.ledgerEvents(ofKind: "chain_break_detected").last)
        #expect(try Stamp.parse(stamped.event).payload["evidence"]?.stringValue == first.evidence)
        _ = try await store.resolveBreak(first.id, decision: .validate, by: "ann", note: nil, now: clock.now())
        #expect(try await store.recordBreaks([signature], now: clock.now()).isEmpty, "the same bytes found again are the decided break")

        // The same kind of break, with the same texts, in bytes edited after the decision.
        try await tamper("UPDATE ledger_events SET event = replace(event, '\"approved\"', '\"rejected\"') WHERE seq = 2")
        let second = try #require(try await store.recordBreaks([signature], now: clock.now()).first, "an edit after the decision went unrecorded")
        #expect(second.id != first.id && second.decision == nil && second.evidence != first.evidence)
        #expect(try await store.ledgerStatus(now: clock.now()) == .breakPending)
        #expect(try await store.ledgerEvents(ofKind: "chain_break_detected").count == 2)
    }

    @Test func breaksRecordedBeforeEvidenceExistedKeepTheirDecisionUntilTheEventChanges() async throws {
        let signature = DetectedBreak(seq: 2, kind: "bad_signature", expected: "a valid signature", found: "one that does not verify", message: "edited")
        do {
            let store = try store()
            for title in ["a", "b", "c"] { _ = try await store.createItem(NewItem(repo: "r", title: title, body: "b"), actor: "t", now: clock.now()) }
            try await tamper("UPDATE ledger_events SET event = replace(event, '\"submitted\"', '\"approved\"') WHERE seq = 2")
            let found = try #require(try await store.recordBreaks([signature], now: clock.now()).first)
            _ = try await store.resolveBreak(found.id, decision: .validate, by: "ann", note: nil, now: clock.now())
        }
        // The database as the previous version left it: no evidence, the old fingerprint, v8 not applied.
        try await tamper(
            """
            ALTER TABLE ledger_breaks DROP COLUMN evidence;
            UPDATE ledger_breaks SET fingerprint = kind || '|' || seq || '|' || expected || '|' || found;
            DELETE FROM grdb_migrations WHERE identifier = 'v8_break_evidence';
            """)
        let store = try store()
        let migrated = try #require(try await store.ledgerBreaks().first)
        #expect(migrated.decision == "validate" && migrated.evidence != nil)
        #expect(try await store.recordBreaks([signature], now: clock.now()).isEmpty, "the upgrade turned a decided break into a new one")
        #expect(try await store.ledgerStatus(now: clock.now()) == .valid)

        try await tamper("UPDATE ledger_events SET event = replace(event, '\"approved\"', '\"rejected\"') WHERE seq = 2")
        #expect(try await store.recordBreaks([signature], now: clock.now()).count == 1)
        #expect(try await store.ledgerStatus(now: clock.now()) == .breakPending)
    }

    @Test func aBreakTakesOneSignedDecisionAndValidationClearsTheFlag() async throws {
        let store = try store()
        let found = try await store.recordBreaks([DetectedBreak(seq: 1, kind: "seq_gap", expected: "1", found: "2", message: "gap")], now: clock.now())
        let id = try #require(found.first?.id)
        #expect(try await store.ledgerStatus(now: clock.now()) == .breakPending)
        await #expect(throws: StoreError.self) { try await store.resolveBreak(id, decision: .validate, by: "  ", note: nil, now: clock.now()) }
        let resolved = try await store.resolveBreak(id, decision: .validate, by: "ann", note: "restart during deploy", now: clock.now())
        #expect(resolved.decision == "validate" && resolved.decidedBy == "ann" && resolved.resolutionSeq != nil)
        #expect(try await store.ledgerStatus(now: clock.now()) == .valid)
        await #expect(throws: StoreError.self) { try await store.resolveBreak(id, decision: .reject, by: "bob", note: nil, now: clock.now()) }
        await #expect(throws: StoreError.self) { try await store.resolveBreak(999, decision: .reject, by: "bob", note: nil, now: clock.now()) }
        let resolution = try Stamp.parse(try #require(try await store.ledgerEvents(after: 0, limit: nil).last?.event))
        #expect(resolution.eventType == "chain_break_resolution")
        #expect(resolution.payload["decided_by"]?.stringValue == "ann")
        #expect(try await verify(store).isValid)
    }

    @Test func aHundredHourOutageStampsExactlyOneTimeout() async throws {
        let store = try store()
        let found = try await store.recordBreaks([DetectedBreak(seq: 1, kind: "fork", expected: "a", found: "b", message: "fork")], now: clock.now())
        #expect(try await store.stampTimeouts(now: clock.now()).isEmpty)
        clock.advance(by: 100 * 3600)
        // Two processes wake up after the outage and both look.
        let other = try self.store()
        async let a = store.stampTimeouts(now: clock.now())
        async let b = other.stampTimeouts(now: clock.now())
        let stamped = try await a + b
        #expect(stamped.map(\.id) == found.map(\.id))
        #expect(try await store.stampTimeouts(now: clock.now()).isEmpty)
        #expect(try await store.ledgerEvents(after: 0, limit: nil).filter { $0.kind == "timeout_no_action" }.count == 1)
        #expect(try await store.ledgerStatus(now: clock.now()) == .brokenDeclared)
    }

    @Test func aClockMovedBackNeitherUndoesATimeoutNorDatesAStampBeforeItsPredecessor() async throws {
        let store = try store()
        _ = try await store.recordBreaks([DetectedBreak(seq: nil, kind: "truncation", expected: "10", found: "8", message: "t")], now: clock.now())
        clock.advance(by: 73 * 3600)
        #expect(try await store.stampTimeouts(now: clock.now()).count == 1)
        clock.advance(by: -48 * 3600)  // NTP yanks the clock back before the deadline
        #expect(try await store.stampTimeouts(now: clock.now()).isEmpty)
        #expect(try await store.ledgerStatus(now: clock.now()) == .brokenDeclared, "a stamped timeout stands")
        _ = try await store.createItem(NewItem(repo: "r", title: "late", body: "b"), actor: "t", now: clock.now())
        let stamps = try await store.ledgerEvents(after: 0, limit: nil).map { try Stamp.parse($0.event) }
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
        #expect(try await verify(store).isValid)
    }

    @Test func aRotatedKeySignsOnAndOldEventsStillVerify() async throws {
        let store = try store()
        _ = try await store.createItem(NewItem(repo: "r", title: "old key", body: "b"), actor: "t", now: clock.now())
        let next = SigningIdentity.generate(createdAt: 1_790_000_100)
        try await store.rotateKey(to: next, now: clock.now())
        _ = try await store.createItem(NewItem(repo: "r", title: "new key", body: "b"), actor: "t", now: clock.now())
        let stamps = try await store.ledgerEvents(after: 0, limit: nil).map { try Stamp.parse($0.event) }
        #expect(stamps.map(\.eventType) == ["state_transition", "key_rotation", "state_transition"])
        #expect(stamps[1].agentID == signer.agentID && stamps[2].agentID == next.agentID)
        #expect(try await verify(store).isValid)
        #expect(try await store.ledgerBreaks().isEmpty, "the hand-over is not a break")
    }
}
