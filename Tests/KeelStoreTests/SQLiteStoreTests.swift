import Foundation
import KeelCore
import KeelStore
import KeelTestSupport
import Testing

@Suite struct SQLiteStoreTests {
    let dir: TemporaryDirectory
    var path: String { dir.path + "/keel.sqlite" }
    let clock = ManualWallClock()

    init() throws { dir = try TemporaryDirectory(prefix: "keel-store") }

    func store() throws -> SQLiteStore { try SQLiteStore(path: path) }

    func new(_ title: String, deps: [Int64] = []) -> NewItem {
        NewItem(repo: "demo", title: title, body: "body of \(title)", dependsOn: deps)
    }

    @Test func creatingAnItemWritesItsFirstTransition() async throws {
        let store = try store()
        let item = try await store.createItem(new("a"), actor: "test", now: clock.now())
        #expect(item.state == .queued)
        let transitions = try await store.transitions(of: item.id)
        #expect(transitions.count == 1)
        #expect(transitions[0].from == nil && transitions[0].to == .queued && transitions[0].actor == "test")
    }

    @Test func anItemWithUnmergedDependenciesIsBlockedUntilTheyMerge() async throws {
        let store = try store()
        let dep = try await store.createItem(new("dep"), actor: "t", now: clock.now())
        let item = try await store.createItem(new("item", deps: [dep.id]), actor: "t", now: clock.now())
        #expect(item.state == .blocked && item.dependsOn == [dep.id])
        #expect(try await store.promoteUnblocked(now: clock.now()).isEmpty)
        // Walk the dependency to merged.
        var (current, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        #expect(current.id == dep.id)
        for outcome: Outcome in [.claimed, .developed, .pushed, .checksPassed, .inspectionPassed, .mergeCompleted] {
            (current, lease) = try await store.transition(
                lease, on: outcome, reason: outcome.rawValue, actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
        }
        #expect(current.state == .merged)
        let promoted = try await store.promoteUnblocked(now: clock.now())
        #expect(promoted.map(\.id) == [item.id])
        #expect(try await store.item(item.id)?.state == .queued)
    }

    @Test func anItemWhoseDependencyWasCancelledGoesToAPerson() async throws {
        let store = try store()
        let dep = try await store.createItem(new("dep"), actor: "t", now: clock.now())
        let item = try await store.createItem(new("item", deps: [dep.id]), actor: "t", now: clock.now())
        _ = try await store.transition(itemID: dep.id, on: .cancelRequested, reason: "dropped", actor: "p", now: clock.now(), changes: ItemChanges())
        let moved = try await store.promoteUnblocked(now: clock.now())
        #expect(moved.map(\.id) == [item.id] && moved.first?.state == .needsHuman)
        #expect(try await store.transitions(of: item.id).last?.reason.contains("dependency #\(dep.id) was cancelled") == true)
        #expect(try await store.promoteUnblocked(now: clock.now()).isEmpty)
    }

    @Test func dependingOnAnUnknownItemIsRefused() async throws {
        let store = try store()
        await #expect(throws: StoreError.self) { try await store.createItem(new("x", deps: [42]), actor: "t", now: clock.now()) }
        #expect(try await store.items().isEmpty)
    }

    @Test func anIllegalTransitionIsRefusedAndNothingIsWritten() async throws {
        let store = try store()
        _ = try await store.createItem(new("a"), actor: "t", now: clock.now())
        let (_, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        do {
            _ = try await store.transition(
                lease, on: .mergeCompleted, reason: "skip ahead", actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
            Issue.record("queued → merged was written")
        } catch let error as StoreError {
            #expect(error.code == .illegalTransition)
        }
        #expect(try await store.item(lease.itemID)?.state == .queued)
        #expect(try await store.transitions(of: lease.itemID).count == 1)
    }

    @Test func concurrentWorkersNeverClaimTheSameItem() async throws {
        let seed = try store()
        for i in 0..<20 { _ = try await seed.createItem(new("item \(i)"), actor: "t", now: clock.now()) }
        // Two stores on one file stand for two processes; eight workers each.
        let stores = [try store(), try store()]
        let now = clock.now()
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for w in 0..<16 {
                let s = stores[w % 2]
                group.addTask {
                    var mine: [Int64] = []
                    while let (item, _) = try await s.claimNext(owner: "w\(w)", now: now, leaseSeconds: 60) { mine.append(item.id) }
                    return mine
                }
            }
            var all: [Int64] = []
            for try await ids in group { all += ids }
            return all
        }
        #expect(claimed.count == 20)
        #expect(Set(claimed).count == 20)
    }

    @Test func anExpiredLeaseIsReclaimedAndTheStaleWriterIsRefused() async throws {
        let store = try store()
        _ = try await store.createItem(new("a"), actor: "t", now: clock.now())
        let (_, first) = try #require(try await store.claimNext(owner: "dead-worker", now: clock.now(), leaseSeconds: 30))
        #expect(try await store.claimNext(owner: "other", now: clock.now(), leaseSeconds: 30) == nil)
        clock.advance(by: 31)
        let (_, second) = try #require(try await store.claimNext(owner: "other", now: clock.now(), leaseSeconds: 30))
        #expect(second.token != first.token)
        do {
            _ = try await store.transition(first, on: .claimed, reason: "late", actor: "dead-worker", now: clock.now(), changes: ItemChanges(), keepLease: true)
            Issue.record("a stale lease wrote a transition")
        } catch let error as StoreError {
            #expect(error.code == .staleLease)
        }
        await #expect(throws: StoreError.self) { try await store.renew(first, now: clock.now(), leaseSeconds: 30) }
        let (item, _) = try await store.transition(
            second, on: .claimed, reason: "attempt 1", actor: "other", now: clock.now(), changes: ItemChanges(incrementAttempt: true), keepLease: true)
        #expect(item.state == .developing && item.attempt == 1)
        #expect(try await store.transitions(of: item.id).map(\.actor) == ["t", "other"])
    }

    @Test func aPersonsCancelRevokesTheWorkersLease() async throws {
        let store = try store()
        _ = try await store.createItem(new("a"), actor: "t", now: clock.now())
        let (_, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        let (_, working) = try await store.transition(lease, on: .claimed, reason: "go", actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
        let cancelled = try await store.transition(itemID: lease.itemID, on: .cancelRequested, reason: "no longer needed", actor: "cli:ann", now: clock.now(), changes: ItemChanges())
        #expect(cancelled.state == .cancelled)
        await #expect(throws: StoreError.self) { try await store.renew(working, now: clock.now(), leaseSeconds: 60) }
        await #expect(throws: StoreError.self) {
            try await store.transition(working, on: .developed, reason: "done", actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
        }
    }

    @Test func backoffKeepsAnItemFromBeingClaimedEarly() async throws {
        let store = try store()
        _ = try await store.createItem(new("a"), actor: "t", now: clock.now())
        var (_, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        (_, lease) = try await store.transition(lease, on: .claimed, reason: "go", actor: "w", now: clock.now(), changes: ItemChanges(), keepLease: true)
        _ = try await store.transition(
            lease, on: .retryableFailure, reason: "blip", actor: "w", now: clock.now(),
            changes: ItemChanges(notBefore: .some(clock.now().addingTimeInterval(30)), history: [NewHistoryEntry(stage: "develop", kind: "failure", signature: "x", summary: "blip")]),
            keepLease: false)
        #expect(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60) == nil)
        clock.advance(by: 31)
        #expect(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60) != nil)
        let history = try await store.history(of: lease.itemID)
        #expect(history.map(\.signature) == ["x"])
    }

    @Test func agentRunsAndCostsAreRecordedAndAttributed() async throws {
        let store = try store()
        let item = try await store.createItem(new("a"), actor: "t", now: clock.now())
        let run = try await store.startAgentRun(
            itemID: item.id, attempt: 1, stage: "develop", agent: "sample", command: "keel sample-agent", transcriptPath: nil,
            promptSHA256: "abc", now: clock.now())
        try await store.setAgentRunPID(run, pid: 4242)
        #expect(try await store.unfinishedAgentRuns(of: item.id).map(\.pid) == [4242])
        clock.advance(by: 12.5)
        try await store.finishAgentRun(run, exitCode: 0, outcome: "success", cost: CostEvent(model: "m", turns: 2, inputTokens: 10, outputTokens: 5, costMicros: 247_224), now: clock.now())
        // A second finish (a resumed worker) must not double the cost.
        try await store.finishAgentRun(run, exitCode: 0, outcome: "success", cost: CostEvent(costMicros: 247_224), now: clock.now())
        let figures = try await store.figures(of: item.id)
        #expect(figures == ItemFigures(agentRuns: 1, agentSeconds: 12.5, costMicros: 247_224))
        #expect(try await store.item(item.id)?.spentMicros == 247_224)
        #expect(try await store.unfinishedAgentRuns(of: item.id).isEmpty)
        let metrics = try await store.metrics()
        #expect(metrics.costMicros == 247_224 && metrics.agentRunsByOutcome == ["success": 1] && metrics.itemsByState[.queued] == 1)
    }

    @Test func aCorruptRowIsReportedWithItsTableAndId() async throws {
        let store = try store()
        let item = try await store.createItem(new("a"), actor: "t", now: clock.now())
        // Hand-edit the file the way a careless operator would, bypassing the CHECK constraint.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA ignore_check_constraints=1'); c.execute(\"UPDATE work_items SET state='exploded'\"); c.commit()", path]
        try sqlite.run()
        try await offPool { sqlite.waitUntilExit() }
        #expect(sqlite.terminationStatus == 0)
        do {
            _ = try await store.item(item.id)
            Issue.record("a corrupt state decoded")
        } catch let error as StoreError {
            #expect(error.code == .corruptRow)
            #expect(error.message.contains("work_items row \(item.id)") && error.message.contains("exploded"))
        }
    }

    @Test func stateSurvivesReopeningTheFile() async throws {
        do {
            let store = try store()
            _ = try await store.createItem(new("durable"), actor: "t", now: clock.now())
        }
        let reopened = try store()
        #expect(try await reopened.items().map(\.title) == ["durable"])
    }
}
