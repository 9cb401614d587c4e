public import Foundation
public import KeelCore

/// A new item to file.
public struct NewItem: Sendable {
    public var tenant: String
    public var repo: String
    public var title: String
    public var body: String
    public var acceptance: String?
    public var parentID: Int64?
    public var budgetMicros: Micros?
    public var dependsOn: [Int64]
    /// An epic, for the planner to decompose.
    public var epic: Bool

    public init(
        tenant: String = "default", repo: String, title: String, body: String, acceptance: String? = nil,
        parentID: Int64? = nil, budgetMicros: Micros? = nil, dependsOn: [Int64] = [], epic: Bool = false
    ) {
        self.epic = epic
        self.tenant = tenant
        self.repo = repo
        self.title = title
        self.body = body
        self.acceptance = acceptance
        self.parentID = parentID
        self.budgetMicros = budgetMicros
        self.dependsOn = dependsOn
    }
}

/// One sub-issue of an epic's plan: `key` is the planner's id, `dependsOn` other keys of the plan.
public struct PlannedIssue: Sendable, Equatable {
    public var key: String
    public var title: String
    public var body: String
    public var acceptance: String?
    public var dependsOn: [String]

    public init(key: String, title: String, body: String, acceptance: String? = nil, dependsOn: [String] = []) {
        self.key = key
        self.title = title
        self.body = body
        self.acceptance = acceptance
        self.dependsOn = dependsOn
    }
}

/// A worker's exclusive, expiring claim on an item. Every write made under a lease checks that the
/// lease is still the item's; a worker that lost it (crash, pause, person) has its writes refused.
public struct Lease: Sendable, Equatable {
    public var itemID: Int64
    public var owner: String
    public var token: String
    /// The state the item was in when the lease was last used.
    public var state: ItemState
    public var expiresAt: Date

    public init(itemID: Int64, owner: String, token: String, state: ItemState, expiresAt: Date) {
        self.itemID = itemID
        self.owner = owner
        self.token = token
        self.state = state
        self.expiresAt = expiresAt
    }
}

/// Field changes written together with a transition.
public struct ItemChanges: Sendable, Equatable {
    public var incrementAttempt = false
    /// `.some(nil)` clears the backoff.
    public var notBefore: Date?? = nil
    public var branch: String?? = nil
    public var headSHA: String?? = nil
    /// Notes for the item's memory, written in the same transaction.
    public var history: [NewHistoryEntry] = []

    public init(
        incrementAttempt: Bool = false, notBefore: Date?? = nil, branch: String?? = nil, headSHA: String?? = nil,
        history: [NewHistoryEntry] = []
    ) {
        self.incrementAttempt = incrementAttempt
        self.notBefore = notBefore
        self.branch = branch
        self.headSHA = headSHA
        self.history = history
    }
}

/// A history entry to append.
public struct NewHistoryEntry: Sendable, Equatable {
    public var stage: String
    public var kind: String
    public var signature: String?
    public var summary: String
    public var detail: String

    public init(stage: String, kind: String, signature: String? = nil, summary: String, detail: String = "") {
        self.stage = stage
        self.kind = kind
        self.signature = signature
        self.summary = summary
        self.detail = detail
    }
}

/// A check run stored with the item it ran for.
public struct CheckRunRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var itemID: Int64
    public var headSHA: String
    public var kind: String
    public var passed: Bool
    public var output: String
    public var startedAt: Date
    public var endedAt: Date
    /// Each check's state and output as the forge reported it.
    public var checks: [ObservedCheck]
}

/// What one claim did: the item claimed, if any, and the items the budget sent to a person.
public struct Claim: Sendable {
    /// An item the budget kept out of work: it went from `from` to `needs_human`.
    public struct Refused: Sendable {
        public var item: WorkItem
        public var from: ItemState
        public var refusal: BudgetRefusal
    }

    public var claimed: (WorkItem, Lease)?
    public var refused: [Refused]

    public init(claimed: (WorkItem, Lease)?, refused: [Refused] = []) {
        self.claimed = claimed
        self.refused = refused
    }
}

/// A move to `needs_human` to tell a person about.
public struct Escalation: Sendable, Equatable {
    public var transitionID: Int64
    public var item: WorkItem
    /// Why the item needs a person (the transition's reason).
    public var reason: String
    public var at: Date
    /// The item's last failure signature, if any.
    public var signature: String?
    public var figures: ItemFigures
}

/// How `keel cost` groups the cost ledger.
public enum CostGrouping: String, Sendable, CaseIterable {
    case issue, agent, repo, tenant, day
}

/// One line of the cost ledger's summary: what one issue, agent, repo, tenant or day cost.
public struct CostLine: Sendable, Equatable, Codable {
    /// The item id, agent, repo, tenant or `YYYY-MM-DD` (UTC).
    public var key: String
    /// The issue's title (grouping by issue only).
    public var title: String?
    /// Agent runs with a cost event.
    public var runs: Int
    public var turns: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var cacheReadTokens: Int
    public var cacheWriteTokens: Int
    public var costMicros: Micros
    /// Runs whose cost is unknown (no reported cost, model not in the pricing table): counted as 0.
    public var unpricedRuns: Int

    enum CodingKeys: String, CodingKey {
        case key, title, runs, turns
        case inputTokens = "input_tokens", outputTokens = "output_tokens", cacheReadTokens = "cache_read_tokens"
        case cacheWriteTokens = "cache_write_tokens", costMicros = "cost_micros", unpricedRuns = "unpriced_runs"
    }

    public init(
        key: String, title: String? = nil, runs: Int, turns: Int, inputTokens: Int, outputTokens: Int, cacheReadTokens: Int,
        cacheWriteTokens: Int, costMicros: Micros, unpricedRuns: Int
    ) {
        self.key = key
        self.title = title
        self.runs = runs
        self.turns = turns
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.costMicros = costMicros
        self.unpricedRuns = unpricedRuns
    }
}

/// Counters for `/metrics`.
public struct StoreMetrics: Sendable, Equatable {
    public var itemsByState: [ItemState: Int]
    public var transitions: Int
    public var agentRunsByOutcome: [String: Int]
    public var costMicros: Micros
    public var agentSeconds: Double
}

/// Per-item figures for summaries and `keel status`.
public struct ItemFigures: Sendable, Equatable, Codable {
    public var agentRuns: Int
    public var agentSeconds: Double
    public var costMicros: Micros

    public init(agentRuns: Int, agentSeconds: Double, costMicros: Micros) {
        self.agentRuns = agentRuns
        self.agentSeconds = agentSeconds
        self.costMicros = costMicros
    }
}

/// The durable home of Keel's state. Every state change is one transaction.
public protocol Store: Sendable {
    /// Files a new item: `queued`, or `blocked` while a dependency has not merged.
    func createItem(_ new: NewItem, actor: String, now: Date) async throws -> WorkItem
    func item(_ id: Int64) async throws -> WorkItem?
    func items() async throws -> [WorkItem]
    func transitions(of itemID: Int64) async throws -> [StateTransition]
    func allTransitions() async throws -> [StateTransition]
    func history(of itemID: Int64) async throws -> [HistoryEntry]
    func agentRuns(of itemID: Int64) async throws -> [AgentRun]
    func figures(of itemID: Int64) async throws -> ItemFigures

    /// Atomically claims the oldest claimable item for `owner`, or nil when none is ready.
    func claimNext(owner: String, now: Date, leaseSeconds: Double) async throws -> (WorkItem, Lease)?
    /// Claims the next ready item, reserving `budget`'s estimate when it will run an agent; items
    /// whose reservation would cross a ceiling go to `needs_human` with the figures instead.
    func claimNext(owner: String, now: Date, leaseSeconds: Double, budget: BudgetPolicy?) async throws -> Claim
    /// Reserves `budget`'s estimate for the next agent run of the item `lease` holds, checked as at
    /// a claim; the refusal (nothing reserved) when it would cross a ceiling.
    func reserve(_ lease: Lease, budget: BudgetPolicy, now: Date) async throws -> BudgetRefusal?
    /// Extends a lease; `.staleLease` when it is no longer the item's.
    func renew(_ lease: Lease, now: Date, leaseSeconds: Double) async throws -> Lease
    /// Gives a lease up without changing state.
    func release(_ lease: Lease) async throws
    /// Moves a leased item along the state machine, in one transaction with its `state_transitions`
    /// row. Returns the updated item and lease (still held when `keepLease`).
    func transition(
        _ lease: Lease, on outcome: Outcome, reason: String, actor: String, now: Date, changes: ItemChanges,
        keepLease: Bool
    ) async throws -> (WorkItem, Lease)
    /// A transition made by a person or the scheduler, not under a lease. Clears any lease, so a
    /// worker still busy with the item has its next write refused.
    func transition(
        itemID: Int64, on outcome: Outcome, reason: String, actor: String, now: Date, changes: ItemChanges
    ) async throws -> WorkItem
    /// Moves every blocked item whose dependencies have all merged to `queued`; returns them.
    func promoteUnblocked(now: Date) async throws -> [WorkItem]
    /// Files an epic's sub-issues (in `issues`' order, dependencies first) and moves the epic to
    /// `blocked` until they merge, in one transaction; releases the epic's lease.
    func recordPlan(
        _ lease: Lease, issues: [PlannedIssue], reason: String, note: NewHistoryEntry?, actor: String, now: Date
    ) async throws -> (WorkItem, Lease, [WorkItem])

    func startAgentRun(
        itemID: Int64, attempt: Int, stage: String, agent: String, command: String, transcriptPath: String?,
        promptSHA256: String, now: Date
    ) async throws -> Int64
    func setAgentRunPID(_ runID: Int64, pid: Int) async throws
    /// Closes a run and records its cost, in one transaction that also adds to the item's spend.
    func finishAgentRun(_ runID: Int64, exitCode: Int?, outcome: String, cost: CostEvent?, now: Date) async throws
    /// Runs of an item that were started and never finished (their process may still be alive).
    func unfinishedAgentRuns(of itemID: Int64) async throws -> [AgentRun]

    func recordCheckRun(
        itemID: Int64, headSHA: String, kind: String, passed: Bool, output: String, checks: [ObservedCheck], startedAt: Date, endedAt: Date
    ) async throws
    /// Lets a leased item wait without changing state (a gate waiting for checks, a merge retry):
    /// it is not claimed again before `until`. `note` goes to the item's history.
    func deferItem(_ lease: Lease, until: Date, note: NewHistoryEntry?, now: Date) async throws
    /// Records `head`, a commit Keel pushed to the item's branch (the marshal's update), as the
    /// item's head without changing its state.
    func recordHead(_ lease: Lease, head: String, now: Date) async throws
    /// Every head Keel recorded for the item (by a transition or ``recordHead(_:head:now:)``): a
    /// branch tip outside this set is someone else's commit.
    func recordedHeads(of itemID: Int64) async throws -> Set<String>
    func checkRun(itemID: Int64, headSHA: String, kind: String) async throws -> CheckRunRecord?
    func checkRuns(of itemID: Int64) async throws -> [CheckRunRecord]

    func metrics() async throws -> StoreMetrics
    /// Moves to `needs_human` no person was notified of yet, oldest first, each claimed for this
    /// caller for five minutes (so two processes never both send it); one whose item has left
    /// `needs_human` since is recorded as superseded and not returned.
    func pendingEscalations(limit: Int, now: Date) async throws -> [Escalation]
    /// Records how the escalation of transition `transitionID` was answered: `delivered` (with the
    /// channels that took it) or `no_channel`.
    func recordEscalationNotice(transitionID: Int64, outcome: String, channels: [String], now: Date) async throws
    /// Gives up this process's claim on sending an escalation (no channel took it), for the next tick to try again.
    func releaseEscalation(transitionID: Int64) async throws
    /// The cost ledger summed by `grouping`, biggest spender first (days in order), with events at or after `since`.
    func costReport(by grouping: CostGrouping, since: Date?) async throws -> [CostLine]
}
