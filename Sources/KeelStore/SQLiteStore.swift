public import Foundation
public import KeelCore
import GRDB
import KeelLedger
import Synchronization

enum ItemStateSQL {
    static let list = ItemState.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
}

/// The embedded store: one SQLite file in WAL mode with full fsync, so a committed transition
/// survives a crash or power loss. Several processes may share the file; writes serialize on
/// SQLite's lock (`BEGIN IMMEDIATE`).
///
/// ```swift
/// let store = try SQLiteStore(path: ".keel/keel.sqlite")
/// let item = try await store.createItem(NewItem(repo: "demo", title: "Add --version", body: ""), actor: "cli", now: Date())
/// ```
public final class SQLiteStore: Store {
    let pool: DatabasePool
    public let path: String
    // Mutex-guarded: a key rotation swaps the signer while workers write.
    let ledgerState: Mutex<LedgerSettings?>
    /// Applied to every text before it is written or stamped (reasons, history, check output,
    /// command lines), so that a secret an agent or a tool printed never reaches the file or
    /// the signed ledger, where it could not be removed without breaking the chain.
    public let redactor: SecretRedactor

    /// How this store stamps its ledger; nil when it keeps none (tests of other parts, read-only tools).
    public var ledger: LedgerSettings? { ledgerState.withLock { $0 } }

    /// Opens (creating if needed) the database at `path` and applies pending migrations. With
    /// `ledger`, every state change is stamped into the signed ledger in its own transaction.
    /// `redactor` guards every text written (credential shapes always; pass the known secrets).
    public init(path: String, ledger: LedgerSettings? = nil, redactor: SecretRedactor = SecretRedactor()) throws {
        self.path = path
        self.redactor = redactor
        self.ledgerState = Mutex(ledger)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // GRDB switches the writer to WAL after prepareDatabase and sets synchronous = NORMAL
            // then, which can lose the last commits on power loss. A transition must survive it.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Migrations.migrator.migrate(pool)
        } catch {
            throw StoreError(
                .unavailable,
                "cannot open the database at \(path): check that the directory is writable and the file is a Keel SQLite database",
                underlying: error)
        }
    }

    // MARK: Items

    public func createItem(_ new: NewItem, actor: String, now: Date) async throws -> WorkItem {
        let ledger = self.ledger
        let new = new.redacted(by: redactor)
        return try await pool.write { db in
            for dep in new.dependsOn where try Row.fetchOne(db, sql: "SELECT 1 FROM work_items WHERE id = ?", arguments: [dep]) == nil {
                throw StoreError(.invalidDependency, "item \(dep) does not exist: an item can only depend on existing items")
            }
            var unmet = 0
            for dep in new.dependsOn {
                let state = try String.fetchOne(db, sql: "SELECT state FROM work_items WHERE id = ?", arguments: [dep])
                if state != ItemState.merged.rawValue { unmet += 1 }
            }
            let state: ItemState = unmet > 0 ? .blocked : .queued
            let ts = Timestamp.text(now)
            try db.execute(
                sql: """
                    INSERT INTO work_items (tenant, repo, title, body, acceptance, state, parent_id, budget_micros, epic, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    new.tenant, new.repo, new.title, new.body, new.acceptance, state.rawValue, new.parentID, new.budgetMicros, new.epic, ts, ts,
                ])
            let id = db.lastInsertedRowID
            for dep in new.dependsOn {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO issue_dependencies (item_id, depends_on_id) VALUES (?, ?)", arguments: [id, dep])
            }
            let reason =
                unmet > 0 ? "submitted; waits for \(new.dependsOn.map { "#\($0)" }.joined(separator: ", ")) to merge" : "submitted"
            try Self.insertTransition(db, ledger, itemID: id, from: nil, to: state, reason: reason, actor: actor, now: now)
            return try Self.fetchItem(db, id)!
        }
    }

    public func item(_ id: Int64) async throws -> WorkItem? {
        try await pool.read { db in try Self.fetchItem(db, id) }
    }

    public func items() async throws -> [WorkItem] {
        try await pool.read { db in
            let deps = try Self.dependencyMap(db)
            return try Row.fetchAll(db, sql: "SELECT * FROM work_items ORDER BY id").map { try Self.decodeItem($0, deps: deps) }
        }
    }

    public func transitions(of itemID: Int64) async throws -> [StateTransition] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM state_transitions WHERE item_id = ? ORDER BY id", arguments: [itemID])
                .map(Self.decodeTransition)
        }
    }

    public func allTransitions() async throws -> [StateTransition] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM state_transitions ORDER BY id").map(Self.decodeTransition)
        }
    }

    public func history(of itemID: Int64) async throws -> [HistoryEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM item_history WHERE item_id = ? ORDER BY id", arguments: [itemID]).map { row in
                HistoryEntry(
                    id: row["id"], itemID: row["item_id"], attempt: row["attempt"], stage: row["stage"], kind: row["kind"],
                    signature: row["signature"], summary: row["summary"], detail: row["detail"],
                    at: try Self.date(row, "at", table: "item_history"))
            }
        }
    }

    public func agentRuns(of itemID: Int64) async throws -> [AgentRun] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM agent_runs WHERE item_id = ? ORDER BY id", arguments: [itemID]).map(Self.decodeRun)
        }
    }

    public func figures(of itemID: Int64) async throws -> ItemFigures {
        try await pool.read { db in
            let runs = try Row.fetchAll(db, sql: "SELECT started_at, ended_at FROM agent_runs WHERE item_id = ?", arguments: [itemID])
            var seconds = 0.0
            for row in runs {
                if let s = Timestamp.date(row["started_at"]), let endText: String = row["ended_at"], let e = Timestamp.date(endText) {
                    seconds += e.timeIntervalSince(s)
                }
            }
            let cost =
                try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(cost_micros), 0) FROM cost_events WHERE item_id = ?", arguments: [itemID])
                ?? 0
            return ItemFigures(agentRuns: runs.count, agentSeconds: seconds, costMicros: cost)
        }
    }

    // MARK: Leases and transitions

    public func claimNext(owner: String, now: Date, leaseSeconds: Double) async throws -> (WorkItem, Lease)? {
        try await claimNext(owner: owner, now: now, leaseSeconds: leaseSeconds, budget: nil).claimed
    }

    public func claimNext(owner: String, now: Date, leaseSeconds: Double, budget: BudgetPolicy?) async throws -> Claim {
        let ts = Timestamp.text(now)
        // An idle worker polls often: look first with a read, which takes no write lock and syncs nothing.
        guard try await pool.read({ db in try Self.claimCandidate(db, now: ts) }) != nil else { return Claim(claimed: nil) }
        let ledger = self.ledger
        return try await pool.write { db in
            var refused: [Claim.Refused] = []
            // Candidates the budget refuses leave the queue (to a person); a bounded number per claim.
            while refused.count < 16, let id = try Self.claimCandidate(db, now: ts) {
                let token = UUID().uuidString
                let candidate = try Self.fetchItem(db, id)!
                if let budget, candidate.state == .queued || candidate.state == .developing {
                    // The check and the reservation in one write transaction: concurrent claims
                    // serialize on it, so together they never cross a ceiling.
                    let figures = try Self.budgetFigures(db, candidate, since: budget.periodStart(at: now), now: ts)
                    if let refusal = budget.refusal(for: figures) {
                        if budget.refusal(for: figures.withoutReservations) == nil {
                            // Only runs in flight hold the room: wait for them to settle rather than ask a person.
                            try db.execute(
                                sql: "UPDATE work_items SET not_before = ? WHERE id = ?",
                                arguments: [Timestamp.text(now.addingTimeInterval(Self.reservationWaitSeconds)), id])
                            continue
                        }
                        _ = try Self.apply(
                            db, ledger, itemID: id, from: candidate.state, outcome: .escalated, reason: refusal.message, actor: owner, now: now,
                            changes: ItemChanges(
                                notBefore: .some(nil),
                                history: [
                                    NewHistoryEntry(stage: "claim", kind: "failure", signature: "budget:\(refusal.scope.rawValue)", summary: refusal.message)
                                ]))
                        refused.append(Claim.Refused(item: try Self.fetchItem(db, id)!, from: candidate.state, refusal: refusal))
                        continue
                    }
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO budget_reservations (item_id, lease_token, tenant, repo, amount_micros, at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [id, token, candidate.tenant, candidate.repo, budget.estimateMicros, ts])
                }
                let expires = now.addingTimeInterval(leaseSeconds)
                try db.execute(
                    sql: "UPDATE work_items SET lease_owner = ?, lease_token = ?, lease_expires_at = ? WHERE id = ?",
                    arguments: [owner, token, Timestamp.text(expires), id])
                let item = try Self.fetchItem(db, id)!
                return Claim(claimed: (item, Lease(itemID: id, owner: owner, token: token, state: item.state, expiresAt: expires)), refused: refused)
            }
            return Claim(claimed: nil, refused: refused)
        }
    }

    public func reserve(_ lease: Lease, budget: BudgetPolicy, now: Date) async throws -> BudgetRefusal? {
        let ts = Timestamp.text(now)
        return try await pool.write { db in
            _ = try Self.checkLease(db, lease)
            let item = try Self.fetchItem(db, lease.itemID)!
            if let refusal = budget.refusal(for: try Self.budgetFigures(db, item, since: budget.periodStart(at: now), now: ts)) {
                return refusal
            }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO budget_reservations (item_id, lease_token, tenant, repo, amount_micros, at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [item.id, lease.token, item.tenant, item.repo, budget.estimateMicros, ts])
            return nil
        }
    }

    /// How long a claim that only other claims' reservations keep out waits before it is tried again.
    static let reservationWaitSeconds: TimeInterval = 2

    /// What `item`, its repo and its tenant have spent (repo and tenant since `since`) and what
    /// other live claims hold reserved.
    static func budgetFigures(_ db: Database, _ item: WorkItem, since: Date?, now: String) throws -> BudgetFigures {
        let from = since.map(Timestamp.text) ?? ""
        func spent(_ column: String, _ value: String) throws -> Micros {
            try Micros.fetchOne(
                db, sql: "SELECT COALESCE(SUM(cost_micros), 0) FROM cost_events WHERE \(column) = ? AND at >= ?", arguments: [value, from]) ?? 0
        }
        // A reservation counts while its item still holds the live lease it was made under.
        func reserved(_ column: String, _ value: String) throws -> Micros {
            try Micros.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(r.amount_micros), 0) FROM budget_reservations r
                    JOIN work_items w ON w.id = r.item_id AND w.lease_token = r.lease_token AND w.lease_expires_at >= ?
                    WHERE r.\(column) = ? AND r.item_id <> ?
                    """,
                arguments: [now, value, item.id]) ?? 0
        }
        return BudgetFigures(
            issue: .init(name: "#\(item.id)", spent: item.spentMicros, reserved: 0),
            issueCeiling: item.budgetMicros,
            repo: .init(name: item.repo, spent: try spent("repo", item.repo), reserved: try reserved("repo", item.repo)),
            tenant: .init(name: item.tenant, spent: try spent("tenant", item.tenant), reserved: try reserved("tenant", item.tenant)))
    }

    public func renew(_ lease: Lease, now: Date, leaseSeconds: Double) async throws -> Lease {
        try await pool.write { db in
            // The token alone says whether the lease is still held: the holder's own transitions
            // keep it (a heartbeat renewing while its stage moves the item is not a lost lease);
            // a person's decision, a release or a takeover after expiry replace or clear it.
            let token = try String?.fetchOne(db, sql: "SELECT lease_token FROM work_items WHERE id = ?", arguments: [lease.itemID]) ?? nil
            guard token == lease.token else {
                throw StoreError(
                    .staleLease,
                    "lease of \(lease.owner) on item #\(lease.itemID) is no longer valid (lease \(token == nil ? "released" : "taken over")): the renewal was refused")
            }
            let expires = now.addingTimeInterval(leaseSeconds)
            try db.execute(
                sql: "UPDATE work_items SET lease_expires_at = ? WHERE id = ?", arguments: [Timestamp.text(expires), lease.itemID])
            var renewed = lease
            renewed.expiresAt = expires
            return renewed
        }
    }

    public func release(_ lease: Lease) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM budget_reservations WHERE item_id = ? AND lease_token = ?", arguments: [lease.itemID, lease.token])
            try db.execute(
                sql: """
                    UPDATE work_items SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = ? AND lease_token = ?
                    """,
                arguments: [lease.itemID, lease.token])
        }
    }

    public func transition(
        _ lease: Lease, on outcome: Outcome, reason: String, actor: String, now: Date, changes: ItemChanges, keepLease: Bool
    ) async throws -> (WorkItem, Lease) {
        let ledger = self.ledger
        let (reason, changes) = (redactor(reason), changes.redacted(by: redactor))
        return try await pool.write { db in
            let current = try Self.checkLease(db, lease)
            let next = try Self.apply(
                db, ledger, itemID: lease.itemID, from: current, outcome: outcome, reason: reason, actor: actor, now: now, changes: changes)
            if !keepLease {
                try db.execute(
                    sql: "UPDATE work_items SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = ?",
                    arguments: [lease.itemID])
            }
            var newLease = lease
            newLease.state = next
            return (try Self.fetchItem(db, lease.itemID)!, newLease)
        }
    }

    public func transition(
        itemID: Int64, on outcome: Outcome, reason: String, actor: String, now: Date, changes: ItemChanges
    ) async throws -> WorkItem {
        let ledger = self.ledger
        let (reason, changes) = (redactor(reason), changes.redacted(by: redactor))
        return try await pool.write { db in
            guard let stateText = try String.fetchOne(db, sql: "SELECT state FROM work_items WHERE id = ?", arguments: [itemID]) else {
                throw StoreError(.itemNotFound, "no item #\(itemID): `keel status` lists the items")
            }
            let current = try Self.state(stateText, table: "work_items", id: itemID)
            _ = try Self.apply(
                db, ledger, itemID: itemID, from: current, outcome: outcome, reason: reason, actor: actor, now: now, changes: changes)
            if outcome == .humanRetry || outcome == .cancelRequested, let ledger {
                try LedgerAppender.append(
                    db, ledger, kind: "human_decision",
                    fields: [
                        "item_id": .integer(itemID), "decision": .string(outcome == .humanRetry ? "retry" : "cancel"),
                        "by": .string(actor), "reason": .string(reason),
                    ],
                    now: now)
            }
            try db.execute(
                sql: "UPDATE work_items SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = ?",
                arguments: [itemID])
            return try Self.fetchItem(db, itemID)!
        }
    }

    public func promoteUnblocked(now: Date) async throws -> [WorkItem] {
        guard
            try await pool.read({ db in
                try !(Self.unblockedIDs(db) + Self.closableEpicIDs(db)).isEmpty || Row.fetchOne(db, sql: Self.strandedSQL) != nil
            })
        else { return [] }
        let ledger = self.ledger
        return try await pool.write { db in
            let ids = try Self.unblockedIDs(db)
            var promoted: [WorkItem] = []
            // A dependency that was cancelled will never merge: a person decides what the dependent does.
            for row in try Row.fetchAll(db, sql: Self.strandedSQL) {
                let id: Int64 = row["item_id"]
                let reason = "dependency #\(row["depends_on_id"] as Int64) was cancelled and will never merge: cancel this item, or retry it once it no longer needs that"
                _ = try Self.apply(
                    db, ledger, itemID: id, from: .blocked, outcome: .escalated, reason: reason, actor: "scheduler", now: now,
                    changes: ItemChanges(history: [NewHistoryEntry(stage: "blocked", kind: "failure", signature: "dependency_cancelled", summary: reason)]))
                promoted.append(try Self.fetchItem(db, id)!)
            }
            // An epic closes when its sub-issues are done: all merged, or merged and cancelled.
            for epic in try Self.closableEpicIDs(db) {
                let children = try Row.fetchAll(db, sql: "SELECT id, state FROM work_items WHERE parent_id = ? ORDER BY id", arguments: [epic])
                let merged = children.filter { $0["state"] as String == ItemState.merged.rawValue }.map { "#\($0["id"] as Int64)" }
                let cancelled = children.count - merged.count
                let reason = "all sub-issues done: \(merged.joined(separator: ", ")) merged" + (cancelled > 0 ? ", \(cancelled) cancelled" : "")
                _ = try Self.apply(
                    db, ledger, itemID: epic, from: .blocked, outcome: .childrenMerged, reason: reason, actor: "scheduler", now: now,
                    changes: ItemChanges())
                promoted.append(try Self.fetchItem(db, epic)!)
            }
            for id in ids {
                let deps = try Int64.fetchAll(db, sql: "SELECT depends_on_id FROM issue_dependencies WHERE item_id = ? ORDER BY depends_on_id", arguments: [id])
                let reason = deps.isEmpty ? "no dependencies left" : "dependencies merged: \(deps.map { "#\($0)" }.joined(separator: ", "))"
                _ = try Self.apply(
                    db, ledger, itemID: id, from: .blocked, outcome: .dependenciesMerged, reason: reason, actor: "scheduler", now: now,
                    changes: ItemChanges())
                promoted.append(try Self.fetchItem(db, id)!)
            }
            return promoted
        }
    }

    public func recordPlan(
        _ lease: Lease, issues: [PlannedIssue], reason: String, note: NewHistoryEntry?, actor: String, now: Date
    ) async throws -> (WorkItem, Lease, [WorkItem]) {
        let ledger = self.ledger
        let redactor = self.redactor
        let issues = issues.map { $0.redacted(by: redactor) }
        let (reason, note) = (redactor(reason), note?.redacted(by: redactor))
        return try await pool.write { db in
            let current = try Self.checkLease(db, lease)
            guard let epic = try Self.fetchItem(db, lease.itemID) else { throw StoreError(.itemNotFound, "item #\(lease.itemID) is gone") }
            // Filed in plan order, so every dependency has its id before its dependents need it.
            var ids: [String: Int64] = [:]
            var children: [WorkItem] = []
            let ts = Timestamp.text(now)
            for issue in issues {
                var deps: [Int64] = []
                for key in issue.dependsOn {
                    guard let dep = ids[key] else {
                        throw StoreError(.invalidDependency, "sub-issue \"\(issue.key)\" depends on \"\(key)\", which is not filed before it")
                    }
                    deps.append(dep)
                }
                let state: ItemState = deps.isEmpty ? .queued : .blocked
                try db.execute(
                    sql: """
                        INSERT INTO work_items (tenant, repo, title, body, acceptance, state, parent_id, budget_micros, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [epic.tenant, epic.repo, issue.title, issue.body, issue.acceptance, state.rawValue, epic.id, nil, ts, ts])
                let id = db.lastInsertedRowID
                ids[issue.key] = id
                for dep in deps {
                    try db.execute(sql: "INSERT INTO issue_dependencies (item_id, depends_on_id) VALUES (?, ?)", arguments: [id, dep])
                }
                let filed = "planned from epic #\(epic.id) as \"\(issue.key)\""
                    + (deps.isEmpty ? "" : "; waits for \(deps.map { "#\($0)" }.joined(separator: ", ")) to merge")
                try Self.insertTransition(db, ledger, itemID: id, from: nil, to: state, reason: filed, actor: actor, now: now)
                children.append(try Self.fetchItem(db, id)!)
            }
            let next = try Self.apply(
                db, ledger, itemID: epic.id, from: current, outcome: .planned, reason: reason, actor: actor, now: now,
                changes: ItemChanges(history: note.map { [$0] } ?? []))
            try db.execute(
                sql: "UPDATE work_items SET lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL WHERE id = ?", arguments: [epic.id])
            var released = lease
            released.state = next
            return (try Self.fetchItem(db, epic.id)!, released, children)
        }
    }

    // MARK: Agent runs, costs, checks

    public func startAgentRun(
        itemID: Int64, attempt: Int, stage: String, agent: String, command: String, transcriptPath: String?, promptSHA256: String,
        now: Date
    ) async throws -> Int64 {
        let command = redactor(command)
        return try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO agent_runs (item_id, attempt, stage, agent, command, started_at, transcript_path, prompt_sha256)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [itemID, attempt, stage, agent, command, Timestamp.text(now), transcriptPath, promptSHA256])
            return db.lastInsertedRowID
        }
    }

    public func setAgentRunPID(_ runID: Int64, pid: Int) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE agent_runs SET pid = ? WHERE id = ?", arguments: [pid, runID])
        }
    }

    public func finishAgentRun(_ runID: Int64, exitCode: Int?, outcome: String, cost: CostEvent?, now: Date) async throws {
        let ledger = self.ledger
        let cost = cost.map { cost in
            var cost = cost
            cost.model = cost.model.map(redactor.redact)
            return cost
        }
        try await pool.write { db in
            let ts = Timestamp.text(now)
            try db.execute(
                sql: "UPDATE agent_runs SET ended_at = ?, exit_code = ?, outcome = ? WHERE id = ? AND ended_at IS NULL",
                arguments: [ts, exitCode, outcome, runID])
            guard db.changesCount == 1 else { return }
            // The run's actual cost replaces what its claim reserved.
            // Only a reservation made before this run started is its own: a later claim's (the run's
            // lease expired and another worker took the item) is left alone.
            try db.execute(
                sql: """
                    DELETE FROM budget_reservations WHERE item_id = (SELECT item_id FROM agent_runs WHERE id = ?)
                      AND at <= (SELECT started_at FROM agent_runs WHERE id = ?)
                    """,
                arguments: [runID, runID])
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT r.item_id, r.agent, r.stage, r.attempt, r.started_at, r.prompt_sha256, w.tenant, w.repo
                        FROM agent_runs r JOIN work_items w ON w.id = r.item_id WHERE r.id = ?
                        """,
                    arguments: [runID])
            else { return }
            let itemID: Int64 = row["item_id"]
            if let ledger {
                try LedgerAppender.append(
                    db, ledger, kind: "agent_run",
                    fields: [
                        "run_id": .integer(runID), "item_id": .integer(itemID), "attempt": LedgerPayload.int(row["attempt"] as Int?),
                        "stage": .string(row["stage"]), "agent": .string(row["agent"]), "outcome": .string(outcome),
                        "exit_code": LedgerPayload.int(exitCode), "prompt_sha256": .string(row["prompt_sha256"]),
                        "started_at": Timestamp.date(row["started_at"]).map(LedgerPayload.unix) ?? .null,
                        "ended_at": LedgerPayload.unix(now),
                    ],
                    now: now)
            }
            guard let cost else { return }
            try db.execute(
                sql: """
                    INSERT INTO cost_events (run_id, item_id, tenant, repo, agent, model, turns, input_tokens, output_tokens,
                                             cache_read_tokens, cache_write_tokens, cost_micros, cost_source, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    runID, itemID, row["tenant"] as String, row["repo"] as String, row["agent"] as String, cost.model, cost.turns,
                    cost.inputTokens, cost.outputTokens, cost.cacheReadTokens, cost.cacheWriteTokens, cost.costMicros,
                    cost.source.rawValue, ts,
                ])
            try db.execute(
                sql: "UPDATE work_items SET spent_micros = spent_micros + ? WHERE id = ?", arguments: [cost.costMicros, itemID])
            if let ledger {
                try LedgerAppender.append(
                    db, ledger, kind: "cost_event",
                    fields: [
                        "run_id": .integer(runID), "item_id": .integer(itemID), "tenant": .string(row["tenant"]),
                        "repo": .string(row["repo"]), "agent": .string(row["agent"]), "model": LedgerPayload.text(cost.model),
                        "turns": LedgerPayload.int(cost.turns), "input_tokens": .integer(Int64(cost.inputTokens)),
                        "output_tokens": .integer(Int64(cost.outputTokens)), "cache_read_tokens": .integer(Int64(cost.cacheReadTokens)),
                        "cache_write_tokens": .integer(Int64(cost.cacheWriteTokens)), "cost_micros": .integer(cost.costMicros),
                        "cost_source": .string(cost.source.rawValue),
                    ],
                    now: now)
            }
        }
    }

    public func unfinishedAgentRuns(of itemID: Int64) async throws -> [AgentRun] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM agent_runs WHERE item_id = ? AND ended_at IS NULL ORDER BY id", arguments: [itemID])
                .map(Self.decodeRun)
        }
    }

    public func recordCheckRun(
        itemID: Int64, headSHA: String, kind: String, passed: Bool, output: String, checks: [ObservedCheck], startedAt: Date, endedAt: Date
    ) async throws {
        let output = redactor(output)
        let checks = checks.map { check in
            var check = check
            check.output = redactor(check.output)
            return check
        }
        let checksJSON = String(decoding: try JSONEncoder().encode(checks), as: UTF8.self)
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO check_runs (item_id, head_sha, kind, passed, output, checks, started_at, ended_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [itemID, headSHA, kind, passed, output, checksJSON, Timestamp.text(startedAt), Timestamp.text(endedAt)])
        }
    }

    public func deferItem(_ lease: Lease, until: Date, note: NewHistoryEntry?, now: Date) async throws {
        let note = note?.redacted(by: redactor)
        try await pool.write { db in
            try Self.checkLease(db, lease)
            try db.execute(
                sql: """
                    UPDATE work_items SET not_before = ?, lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
                    WHERE id = ?
                    """,
                arguments: [Timestamp.text(until), lease.itemID])
            if let note {
                let attempt = try Int.fetchOne(db, sql: "SELECT attempt FROM work_items WHERE id = ?", arguments: [lease.itemID]) ?? 0
                try db.execute(
                    sql: """
                        INSERT INTO item_history (item_id, attempt, stage, kind, signature, summary, detail, at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [lease.itemID, attempt, note.stage, note.kind, note.signature, note.summary, note.detail, Timestamp.text(now)])
            }
        }
    }

    public func recordHead(_ lease: Lease, head: String, now: Date) async throws {
        try await pool.write { db in
            try Self.checkLease(db, lease)
            try db.execute(sql: "UPDATE work_items SET head_sha = ? WHERE id = ?", arguments: [head, lease.itemID])
            try Self.insertHead(db, itemID: lease.itemID, head: head, now: now)
        }
    }

    public func recordedHeads(of itemID: Int64) async throws -> Set<String> {
        try await pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT head_sha FROM item_heads WHERE item_id = ?", arguments: [itemID]))
        }
    }

    static func insertHead(_ db: Database, itemID: Int64, head: String, now: Date) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO item_heads (item_id, head_sha, at) VALUES (?, ?, ?)", arguments: [itemID, head, Timestamp.text(now)])
    }

    public func checkRun(itemID: Int64, headSHA: String, kind: String) async throws -> CheckRunRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM check_runs WHERE item_id = ? AND head_sha = ? AND kind = ? ORDER BY id DESC LIMIT 1",
                arguments: [itemID, headSHA, kind]
            ).map(Self.decodeCheckRun)
        }
    }

    public func checkRuns(of itemID: Int64) async throws -> [CheckRunRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM check_runs WHERE item_id = ? ORDER BY id", arguments: [itemID]).map(Self.decodeCheckRun)
        }
    }

    public func costReport(by grouping: CostGrouping, since: Date?) async throws -> [CostLine] {
        let key: String =
            switch grouping {
            case .issue: "CAST(c.item_id AS TEXT)"
            case .agent: "c.agent"
            case .repo: "c.repo"
            case .tenant: "c.tenant"
            case .day: "substr(c.at, 1, 10)"
            }
        let order = grouping == .day ? "k" : "cost DESC, k"
        let from = since.map(Timestamp.text) ?? ""
        return try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(key) AS k, \(grouping == .issue ? "MAX(w.title)" : "NULL") AS title, COUNT(*) AS runs,
                           COALESCE(SUM(c.turns), 0) AS turns, SUM(c.input_tokens) AS input, SUM(c.output_tokens) AS output,
                           SUM(c.cache_read_tokens) AS cache_read, SUM(c.cache_write_tokens) AS cache_write,
                           SUM(c.cost_micros) AS cost, SUM(c.cost_source = 'unpriced') AS unpriced
                    FROM cost_events c JOIN work_items w ON w.id = c.item_id
                    WHERE c.at >= ?
                    GROUP BY k ORDER BY \(order)
                    """,
                arguments: [from]
            ).map { row in
                CostLine(
                    key: row["k"], title: row["title"], runs: row["runs"], turns: row["turns"], inputTokens: row["input"],
                    outputTokens: row["output"], cacheReadTokens: row["cache_read"], cacheWriteTokens: row["cache_write"],
                    costMicros: row["cost"], unpricedRuns: row["unpriced"])
            }
        }
    }

    public func pendingEscalations(limit: Int, now: Date) async throws -> [Escalation] {
        let rows = try await pool.write { db -> [(Int64, Int64, String, String)] in
            let candidates = try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, t.item_id, t.reason, t.at, w.state FROM state_transitions t
                    JOIN work_items w ON w.id = t.item_id
                    LEFT JOIN escalation_notices n ON n.transition_id = t.id
                    WHERE t.to_state = 'needs_human' AND (n.transition_id IS NULL OR (n.outcome = 'sending' AND n.at < ?))
                    ORDER BY t.id LIMIT ?
                    """,
                arguments: [Timestamp.text(now), limit])
            var pending: [(Int64, Int64, String, String)] = []
            for row in candidates {
                let transition: Int64 = row["id"]
                let itemID: Int64 = row["item_id"]
                let latest = try Int64.fetchOne(
                    db, sql: "SELECT MAX(id) FROM state_transitions WHERE item_id = ?", arguments: [itemID])
                if row["state"] as String != ItemState.needsHuman.rawValue || latest != transition {
                    // A person already answered (or it moved on): nobody needs telling any more.
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO escalation_notices (transition_id, item_id, outcome, at) VALUES (?, ?, 'superseded', ?)",
                        arguments: [transition, itemID, Timestamp.text(now)])
                    continue
                }
                // Claimed for five minutes: another `keel run` on this database does not send it too.
                try db.execute(
                    sql: "INSERT OR REPLACE INTO escalation_notices (transition_id, item_id, outcome, at) VALUES (?, ?, 'sending', ?)",
                    arguments: [transition, itemID, Timestamp.text(now.addingTimeInterval(300))])
                pending.append((transition, itemID, row["reason"], row["at"]))
            }
            return pending
        }
        var escalations: [Escalation] = []
        for (transition, itemID, reason, at) in rows {
            guard let item = try await item(itemID) else { continue }
            let signature = try await history(of: itemID).last { $0.signature != nil }?.signature
            escalations.append(
                Escalation(
                    transitionID: transition, item: item, reason: reason, at: Timestamp.date(at) ?? now, signature: signature,
                    figures: try await figures(of: itemID)))
        }
        return escalations
    }

    public func recordEscalationNotice(transitionID: Int64, outcome: String, channels: [String], now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO escalation_notices (transition_id, item_id, outcome, channels, at)
                    SELECT id, item_id, ?, ?, ? FROM state_transitions WHERE id = ?
                    """,
                arguments: [outcome, channels.joined(separator: ","), Timestamp.text(now), transitionID])
        }
    }

    public func releaseEscalation(transitionID: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM escalation_notices WHERE transition_id = ? AND outcome = 'sending'", arguments: [transitionID])
        }
    }

    public func metrics() async throws -> StoreMetrics {
        try await pool.read { db in
            var byState: [ItemState: Int] = [:]
            for state in ItemState.allCases { byState[state] = 0 }
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM work_items GROUP BY state") {
                if let s = ItemState(rawValue: row["state"]) { byState[s] = row["n"] }
            }
            var runs: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT COALESCE(outcome, 'running') AS o, COUNT(*) AS n FROM agent_runs GROUP BY o") {
                runs[row["o"]] = row["n"]
            }
            let transitions = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM state_transitions") ?? 0
            let cost = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(cost_micros), 0) FROM cost_events") ?? 0
            var seconds = 0.0
            for row in try Row.fetchAll(db, sql: "SELECT started_at, ended_at FROM agent_runs WHERE ended_at IS NOT NULL") {
                if let s = Timestamp.date(row["started_at"]), let e = Timestamp.date(row["ended_at"]) { seconds += e.timeIntervalSince(s) }
            }
            return StoreMetrics(itemsByState: byState, transitions: transitions, agentRunsByOutcome: runs, costMicros: cost, agentSeconds: seconds)
        }
    }

    // MARK: Helpers (run inside a transaction)

    /// The next item a worker should take: items that were mid-stage (their worker died or let go)
    /// come first, as they hold work in flight; then the oldest ready queued item. Each probe seeks the
    /// `(state, lease_expires_at, id)` index, so a claim costs about the same with ten items or ten thousand.
    static func claimCandidate(_ db: Database, now ts: String) throws -> Int64? {
        let readyNow = "(not_before IS NULL OR not_before <= ?)"
        for states in [Migrations.resumableStatesSQL, "'queued'"] {
            let free = try Int64.fetchOne(
                db,
                sql: "SELECT id FROM work_items WHERE state IN (\(states)) AND lease_expires_at IS NULL AND \(readyNow) ORDER BY id LIMIT 1",
                arguments: [ts])
            let expired = try Int64.fetchOne(
                db,
                sql: "SELECT id FROM work_items WHERE state IN (\(states)) AND lease_expires_at < ? AND \(readyNow) ORDER BY id LIMIT 1",
                arguments: [ts, ts])
            if let id = [free, expired].compactMap({ $0 }).min() { return id }
        }
        return nil
    }

    /// Blocked items (not epics waiting for their sub-issues) with a cancelled dependency, one row each.
    static let strandedSQL = """
        SELECT w.id AS item_id, MIN(d.depends_on_id) AS depends_on_id FROM work_items w
        JOIN issue_dependencies d ON d.item_id = w.id JOIN work_items dep ON dep.id = d.depends_on_id
        WHERE w.state = 'blocked' AND w.lease_token IS NULL AND dep.state = 'cancelled'
          AND NOT EXISTS (SELECT 1 FROM work_items c WHERE c.parent_id = w.id)
        GROUP BY w.id ORDER BY w.id
        """

    /// Blocked epics whose sub-issues are all merged or cancelled, at least one merged.
    static func closableEpicIDs(_ db: Database) throws -> [Int64] {
        try Int64.fetchAll(
            db,
            sql: """
                SELECT w.id FROM work_items w
                WHERE w.state = 'blocked' AND w.epic = 1 AND w.lease_token IS NULL
                  AND EXISTS (SELECT 1 FROM work_items c WHERE c.parent_id = w.id AND c.state = 'merged')
                  AND NOT EXISTS (SELECT 1 FROM work_items c WHERE c.parent_id = w.id AND c.state NOT IN ('merged', 'cancelled'))
                ORDER BY w.id
                """)
    }

    /// Blocked items whose dependencies have all merged (epics waiting for their sub-issues excepted).
    static func unblockedIDs(_ db: Database) throws -> [Int64] {
        try Int64.fetchAll(
            db,
            sql: """
                SELECT w.id FROM work_items w
                WHERE w.state = 'blocked' AND w.lease_token IS NULL
                  AND NOT EXISTS (SELECT 1 FROM work_items c WHERE c.parent_id = w.id)
                  AND NOT EXISTS (
                    SELECT 1 FROM issue_dependencies d JOIN work_items dep ON dep.id = d.depends_on_id
                    WHERE d.item_id = w.id AND dep.state <> 'merged')
                ORDER BY w.id
                """)
    }

    /// Returns the item's current state when `lease` is still its lease; throws `.staleLease` otherwise.
    @discardableResult
    static func checkLease(_ db: Database, _ lease: Lease) throws -> ItemState {
        guard let row = try Row.fetchOne(db, sql: "SELECT state, lease_token FROM work_items WHERE id = ?", arguments: [lease.itemID]) else {
            throw StoreError(.itemNotFound, "no item #\(lease.itemID)")
        }
        let token: String? = row["lease_token"]
        let state = try Self.state(row["state"], table: "work_items", id: lease.itemID)
        guard token == lease.token, state == lease.state else {
            throw StoreError(
                .staleLease,
                "lease of \(lease.owner) on item #\(lease.itemID) is no longer valid (item is \(state), lease \(token == nil ? "released" : "taken over")): the write was refused")
        }
        return state
    }

    static func apply(
        _ db: Database, _ ledger: LedgerSettings?, itemID: Int64, from current: ItemState, outcome: Outcome, reason: String, actor: String,
        now: Date, changes: ItemChanges
    ) throws -> ItemState {
        let next: ItemState
        do {
            next = try StateMachine.next(from: current, on: outcome)
        } catch {
            throw StoreError(.illegalTransition, "item #\(itemID): \(error.message)", underlying: error)
        }
        let ts = Timestamp.text(now)
        var sets = ["state = ?", "updated_at = ?"]
        var args: [(any DatabaseValueConvertible)?] = [next.rawValue, ts]
        if changes.incrementAttempt { sets.append("attempt = attempt + 1") }
        if let notBefore = changes.notBefore {
            sets.append("not_before = ?")
            args.append(notBefore.map(Timestamp.text))
        }
        if let branch = changes.branch {
            sets.append("branch = ?")
            args.append(branch)
        }
        if let head = changes.headSHA {
            sets.append("head_sha = ?")
            args.append(head)
        }
        args.append(itemID)
        try db.execute(sql: "UPDATE work_items SET \(sets.joined(separator: ", ")) WHERE id = ?", arguments: StatementArguments(args))
        if case .some(.some(let head)) = changes.headSHA { try insertHead(db, itemID: itemID, head: head, now: now) }
        try insertTransition(db, ledger, itemID: itemID, from: current, to: next, reason: reason, actor: actor, now: now)
        if !changes.history.isEmpty {
            let attempt = try Int.fetchOne(db, sql: "SELECT attempt FROM work_items WHERE id = ?", arguments: [itemID]) ?? 0
            for entry in changes.history {
                try db.execute(
                    sql: """
                        INSERT INTO item_history (item_id, attempt, stage, kind, signature, summary, detail, at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [itemID, attempt, entry.stage, entry.kind, entry.signature, entry.summary, entry.detail, ts])
            }
        }
        return next
    }

    /// Writes a `state_transitions` row and, with a ledger, its stamp, in the caller's transaction.
    static func insertTransition(
        _ db: Database, _ ledger: LedgerSettings?, itemID: Int64, from: ItemState?, to: ItemState, reason: String, actor: String, now: Date
    ) throws {
        try db.execute(
            sql: "INSERT INTO state_transitions (item_id, from_state, to_state, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [itemID, from?.rawValue, to.rawValue, reason, actor, Timestamp.text(now)])
        guard let ledger else { return }
        try LedgerAppender.append(
            db, ledger, kind: "state_transition",
            fields: [
                "item_id": .integer(itemID), "transition_id": .integer(db.lastInsertedRowID), "from_state": LedgerPayload.text(from?.rawValue),
                "to_state": .string(to.rawValue), "reason": .string(reason), "actor": .string(actor), "at": LedgerPayload.unix(now),
            ],
            now: now)
    }

    static func fetchItem(_ db: Database, _ id: Int64) throws -> WorkItem? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM work_items WHERE id = ?", arguments: [id]) else { return nil }
        let deps = try Int64.fetchAll(db, sql: "SELECT depends_on_id FROM issue_dependencies WHERE item_id = ? ORDER BY depends_on_id", arguments: [id])
        return try decodeItem(row, deps: [id: deps])
    }

    static func dependencyMap(_ db: Database) throws -> [Int64: [Int64]] {
        var map: [Int64: [Int64]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT item_id, depends_on_id FROM issue_dependencies ORDER BY item_id, depends_on_id") {
            map[row["item_id"], default: []].append(row["depends_on_id"])
        }
        return map
    }

    static func state(_ text: String?, table: String, id: Int64) throws -> ItemState {
        guard let text, let state = ItemState(rawValue: text) else {
            throw StoreError(
                .corruptRow,
                "\(table) row \(id): state \"\(text ?? "NULL")\" is not a Keel state (one of \(ItemState.allCases.map(\.rawValue).joined(separator: ", "))); fix the row by hand or restore from backup")
        }
        return state
    }

    static func date(_ row: Row, _ column: String, table: String) throws -> Date {
        let text: String? = row[column]
        guard let text, let date = Timestamp.date(text) else {
            let id: Int64? = row["id"]
            throw StoreError(.corruptRow, "\(table) row \(id.map(String.init) ?? "?"): \(column) \"\(text ?? "NULL")\" is not an ISO 8601 timestamp")
        }
        return date
    }

    static func optionalDate(_ row: Row, _ column: String, table: String) throws -> Date? {
        let text: String? = row[column]
        guard text != nil else { return nil }
        return try date(row, column, table: table)
    }

    static func decodeItem(_ row: Row, deps: [Int64: [Int64]]) throws -> WorkItem {
        let id: Int64 = row["id"]
        return WorkItem(
            id: id, tenant: row["tenant"], repo: row["repo"], title: row["title"], body: row["body"], acceptance: row["acceptance"],
            state: try state(row["state"], table: "work_items", id: id), attempt: row["attempt"], parentID: row["parent_id"],
            budgetMicros: row["budget_micros"], spentMicros: row["spent_micros"],
            createdAt: try date(row, "created_at", table: "work_items"), updatedAt: try date(row, "updated_at", table: "work_items"),
            notBefore: try optionalDate(row, "not_before", table: "work_items"), branch: row["branch"], headSHA: row["head_sha"],
            dependsOn: deps[id] ?? [], isEpic: (row["epic"] as Int64?) == 1)
    }

    static func decodeTransition(_ row: Row) throws -> StateTransition {
        let id: Int64 = row["id"]
        let fromText: String? = row["from_state"]
        return StateTransition(
            id: id, itemID: row["item_id"], from: try fromText.map { try state($0, table: "state_transitions", id: id) },
            to: try state(row["to_state"], table: "state_transitions", id: id), reason: row["reason"], actor: row["actor"],
            at: try date(row, "at", table: "state_transitions"))
    }

    static func decodeRun(_ row: Row) throws -> AgentRun {
        AgentRun(
            id: row["id"], itemID: row["item_id"], attempt: row["attempt"], stage: row["stage"], agent: row["agent"],
            command: row["command"], startedAt: try date(row, "started_at", table: "agent_runs"),
            endedAt: try optionalDate(row, "ended_at", table: "agent_runs"), exitCode: row["exit_code"], outcome: row["outcome"],
            transcriptPath: row["transcript_path"], promptSHA256: row["prompt_sha256"], pid: row["pid"])
    }

    static func decodeCheckRun(_ row: Row) throws -> CheckRunRecord {
        CheckRunRecord(
            id: row["id"], itemID: row["item_id"], headSHA: row["head_sha"], kind: row["kind"], passed: row["passed"],
            output: row["output"], startedAt: try date(row, "started_at", table: "check_runs"),
            endedAt: try date(row, "ended_at", table: "check_runs"),
            checks: (try? JSONDecoder().decode([ObservedCheck].self, from: Data((row["checks"] as String? ?? "[]").utf8))) ?? [])
    }
}

extension NewHistoryEntry {
    /// The entry with its texts redacted.
    func redacted(by redactor: SecretRedactor) -> NewHistoryEntry {
        var entry = self
        entry.summary = redactor(summary)
        entry.detail = redactor(detail)
        entry.signature = signature.map(redactor.redact)
        return entry
    }
}

extension ItemChanges {
    /// The changes with their history entries redacted.
    func redacted(by redactor: SecretRedactor) -> ItemChanges {
        var changes = self
        changes.history = history.map { $0.redacted(by: redactor) }
        return changes
    }
}

extension NewItem {
    /// The item with its texts redacted.
    func redacted(by redactor: SecretRedactor) -> NewItem {
        var item = self
        item.title = redactor(title)
        item.body = redactor(body)
        item.acceptance = acceptance.map(redactor.redact)
        return item
    }
}

extension PlannedIssue {
    /// The issue with its texts redacted.
    func redacted(by redactor: SecretRedactor) -> PlannedIssue {
        var issue = self
        issue.title = redactor(title)
        issue.body = redactor(body)
        issue.acceptance = acceptance.map(redactor.redact)
        return issue
    }
}
