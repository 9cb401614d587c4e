import Foundation
import KeelCore
import KeelStore
import KeelTestSupport
import Synchronization
import Testing

/// Budgets reserved at claim and settled after the run, in the store's transactions.
@Suite struct BudgetStoreTests {
    let dir: TemporaryDirectory
    let clock = ManualWallClock()

    init() throws { dir = try TemporaryDirectory(prefix: "keel-budget") }

    func store() throws -> SQLiteStore { try SQLiteStore(path: dir.path + "/keel.sqlite") }

    /// Starts and finishes one agent run of `item` costing `micros`, as a worker does.
    func spend(_ store: SQLiteStore, _ item: WorkItem, _ micros: Micros, agent: String = "claude-code", model: String = "m") async throws {
        let run = try await store.startAgentRun(
            itemID: item.id, attempt: 1, stage: "develop", agent: agent, command: "x", transcriptPath: nil, promptSHA256: "p", now: clock.now())
        try await store.finishAgentRun(
            run, exitCode: 0, outcome: "success", cost: CostEvent(model: model, turns: 1, inputTokens: 100, outputTokens: 10, costMicros: micros),
            now: clock.now())
    }

    @Test func aClaimThatWouldCrossTheIssueCeilingGoesToAPersonWithTheFigures() async throws {
        let store = try store()
        let item = try await store.createItem(NewItem(repo: "r", title: "a", body: ""), actor: "t", now: clock.now())
        try await spend(store, item, 4_600_000)
        let policy = BudgetPolicy(estimateMicros: 500_000, issueMicros: 5_000_000)

        let claim = try await store.claimNext(owner: "w1", now: clock.now(), leaseSeconds: 60, budget: policy)

        #expect(claim.claimed == nil, "not dequeued")
        let stop = try #require(claim.refused.first)
        #expect(stop.item.state == .needsHuman && stop.from == .queued)
        #expect(stop.refusal.scope == .issue && stop.refusal.spent == 4_600_000 && stop.refusal.ceiling == 5_000_000)
        let reason = try #require(try await store.transitions(of: item.id).last?.reason)
        #expect(reason.contains("spent $4.60") && reason.contains("estimate $0.5000") && reason.contains("ceiling $5.00"), "\(reason)")
        #expect(try await store.history(of: item.id).last?.signature == "budget:issue")
        // Under the ceiling it is claimed, and an item's own budget overrides the policy's.
        let roomy = try await store.createItem(NewItem(repo: "r", title: "b", body: "", budgetMicros: 20_000_000), actor: "t", now: clock.now())
        try await spend(store, roomy, 10_000_000)
        #expect(try await store.claimNext(owner: "w1", now: clock.now(), leaseSeconds: 60, budget: policy).claimed?.0.id == roomy.id)
    }

    @Test func concurrentClaimsNeverReserveBeyondTheTenantCeiling() async throws {
        let seed = try store()
        for i in 0..<40 { _ = try await seed.createItem(NewItem(tenant: "acme", repo: "r\(i % 3)", title: "i\(i)", body: ""), actor: "t", now: clock.now()) }
        let policy = BudgetPolicy(estimateMicros: 1_000_000, tenantMicros: 7_000_000, period: .total)
        // Two stores on one file stand for two processes; sixteen workers claim at once.
        let stores = [try store(), try store()]
        let now = clock.now()
        let (claimed, refused) = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for w in 0..<16 {
                let s = stores[w % 2]
                group.addTask {
                    var mine = (0, 0)
                    while true {
                        let claim = try await s.claimNext(owner: "w\(w)", now: now, leaseSeconds: 600, budget: policy)
                        mine.1 += claim.refused.count
                        guard claim.claimed != nil else {
                            if claim.refused.isEmpty { return mine }
                            continue
                        }
                        mine.0 += 1
                    }
                }
            }
            var total = (0, 0)
            for try await (c, r) in group { total = (total.0 + c, total.1 + r) }
            return total
        }
        #expect(claimed == 7, "exactly the ceiling's worth of reservations")
        #expect(refused == 0, "only reservations fill the ceiling: the rest wait for those runs, no person is asked yet")
        let items = try await seed.items()
        #expect(items.filter { $0.state == .queued && $0.notBefore.map { $0 > now } == true }.count == 33)

        // The seven runs settle at their estimate: now spend alone fills the ceiling and the rest go to a person.
        for item in items where item.notBefore == nil {
            try await spend(seed, item, 1_000_000)
        }
        clock.advance(by: 3)
        let late = try await seed.claimNext(owner: "w", now: clock.now(), leaseSeconds: 600, budget: policy)
        #expect(late.claimed == nil && late.refused.count == 16, "refused in batches of 16 per claim")
        #expect(late.refused.first?.refusal.spent == 7_000_000)
    }

    @Test func theActualCostReplacesTheReservationAndAReleasedClaimHoldsNothing() async throws {
        let store = try store()
        let a = try await store.createItem(NewItem(repo: "r", title: "a", body: ""), actor: "t", now: clock.now())
        let b = try await store.createItem(NewItem(repo: "r", title: "b", body: ""), actor: "t", now: clock.now())
        let c = try await store.createItem(NewItem(repo: "r", title: "c", body: ""), actor: "t", now: clock.now())
        let policy = BudgetPolicy(estimateMicros: 2_000_000, repoMicros: 4_000_000, period: .total)

        let (_, leaseA) = try #require(try await store.claimNext(owner: "w1", now: clock.now(), leaseSeconds: 60, budget: policy).claimed)
        let (_, leaseB) = try #require(try await store.claimNext(owner: "w2", now: clock.now(), leaseSeconds: 60, budget: policy).claimed)
        // Two reservations of $2 fill the $4 repo ceiling: c waits for them to settle.
        let third = try await store.claimNext(owner: "w3", now: clock.now(), leaseSeconds: 60, budget: policy)
        #expect(third.claimed == nil && third.refused.isEmpty)
        #expect(try await store.item(c.id)?.notBefore ?? .distantPast > clock.now())

        // a's run cost $0.50: its reservation is settled at that, but b still holds $2.
        try await spend(store, a, 500_000)
        clock.advance(by: 3)
        let still = try await store.claimNext(owner: "w3", now: clock.now(), leaseSeconds: 60, budget: policy)
        #expect(still.claimed == nil && still.refused.isEmpty, "0.50 + 2 + 2 > 4: still waiting")
        clock.advance(by: 3)
        // b's claim is let go without a run (and b cancelled): it holds nothing any more.
        try await store.release(leaseB)
        _ = try await store.transition(itemID: b.id, on: .cancelRequested, reason: "cancel", actor: "p", now: clock.now(), changes: ItemChanges())
        let (claimedC, _) = try #require(try await store.claimNext(owner: "w3", now: clock.now(), leaseSeconds: 60, budget: policy).claimed)
        #expect(claimedC.id == c.id, "spent $0.50 + reserved $0 + estimate $2 ≤ $4")
        try await store.release(leaseA)
    }

    @Test func aClaimLostToAnExpiredLeaseStopsHoldingItsReservation() async throws {
        let store = try store()
        _ = try await store.createItem(NewItem(repo: "r", title: "a", body: ""), actor: "t", now: clock.now())
        let b = try await store.createItem(NewItem(repo: "r", title: "b", body: ""), actor: "t", now: clock.now())
        let policy = BudgetPolicy(estimateMicros: 3_000_000, repoMicros: 4_000_000, period: .total)
        _ = try #require(try await store.claimNext(owner: "crashed", now: clock.now(), leaseSeconds: 10, budget: policy).claimed)
        let blocked = try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 10, budget: policy)
        #expect(blocked.claimed == nil && blocked.refused.isEmpty, "b waits for the crashed claim's reservation")
        #expect(try await store.item(b.id)?.notBefore != nil)
        clock.advance(by: 11)
        // The crashed worker's lease expired: its reservation no longer counts, and its item is reclaimed first.
        let again = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 10, budget: policy).claimed)
        #expect(again.0.title == "a")
    }

    @Test func repoAndTenantSpendCountsOnlyTheCurrentPeriod() async throws {
        let store = try store()
        let old = try await store.createItem(NewItem(repo: "r", title: "old", body: ""), actor: "t", now: clock.now())
        try await spend(store, old, 9_000_000)
        _ = try await store.transition(itemID: old.id, on: .cancelRequested, reason: "done", actor: "p", now: clock.now(), changes: ItemChanges())
        clock.advance(by: 40 * 86_400)
        _ = try await store.createItem(NewItem(repo: "r", title: "new", body: ""), actor: "t", now: clock.now())
        let monthly = BudgetPolicy(estimateMicros: 1_000_000, repoMicros: 5_000_000, period: .month)
        let total = BudgetPolicy(estimateMicros: 1_000_000, repoMicros: 5_000_000, period: .total)
        let refused = try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60, budget: total)
        #expect(refused.refused.first?.refusal.scope == .repo)
        #expect(refused.refused.first?.refusal.message.contains("repo budget of r") == true)
        _ = try await store.transition(
            itemID: refused.refused[0].item.id, on: .humanRetry, reason: "retry", actor: "p", now: clock.now(), changes: ItemChanges())
        #expect(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60, budget: monthly).claimed?.0.title == "new")
    }

    @Test func theCostLedgerAnswersWhatAnIssueCostAndWhichAgentBurnedIt() async throws {
        let store = try store()
        let a = try await store.createItem(NewItem(tenant: "acme", repo: "api", title: "Fix login", body: ""), actor: "t", now: clock.now())
        let b = try await store.createItem(NewItem(tenant: "acme", repo: "web", title: "Dark mode", body: ""), actor: "t", now: clock.now())
        try await spend(store, a, 1_250_000, agent: "claude-code")
        try await spend(store, a, 3_000_000, agent: "codex")
        clock.advance(by: 86_400)
        try await spend(store, b, 500_000, agent: "claude-code")
        let run = try await store.startAgentRun(
            itemID: b.id, attempt: 1, stage: "develop", agent: "aider", command: "x", transcriptPath: nil, promptSHA256: "p", now: clock.now())
        try await store.finishAgentRun(run, exitCode: 0, outcome: "success", cost: CostEvent(model: "local", source: .unpriced), now: clock.now())

        let byIssue = try await store.costReport(by: .issue, since: nil)
        #expect(byIssue.map(\.key) == ["\(a.id)", "\(b.id)"])
        #expect(byIssue.map(\.costMicros) == [4_250_000, 500_000])
        #expect(byIssue[0].title == "Fix login" && byIssue[0].runs == 2 && byIssue[0].inputTokens == 200)
        #expect(byIssue[1].runs == 2 && byIssue[1].unpricedRuns == 1)
        let byAgent = try await store.costReport(by: .agent, since: nil)
        #expect(byAgent.map(\.key) == ["codex", "claude-code", "aider"])
        #expect(byAgent.map(\.costMicros) == [3_000_000, 1_750_000, 0])
        #expect(try await store.costReport(by: .repo, since: nil).map(\.key) == ["api", "web"])
        #expect(try await store.costReport(by: .tenant, since: nil).map(\.costMicros) == [4_750_000])
        let byDay = try await store.costReport(by: .day, since: nil)
        #expect(byDay.count == 2 && byDay[0].key < byDay[1].key && byDay.map(\.costMicros) == [4_250_000, 500_000])
        #expect(try await store.costReport(by: .issue, since: clock.now()).map(\.key) == ["\(b.id)"])
    }
}
