public import Foundation

/// One issue on its way to a merged pull request: a row of `work_items`.
public struct WorkItem: Sendable, Equatable, Codable, Identifiable {
    public var id: Int64
    public var tenant: String
    public var repo: String
    public var title: String
    public var body: String
    public var acceptance: String?
    public var state: ItemState
    /// Development attempts started so far (1 during the first).
    public var attempt: Int
    public var parentID: Int64?
    /// An epic: the planner decomposes it into sub-issues (children) and it closes when they merge.
    public var isEpic: Bool
    public var budgetMicros: Micros?
    public var spentMicros: Micros
    public var createdAt: Date
    public var updatedAt: Date
    /// Not to be claimed before this instant (backoff).
    public var notBefore: Date?
    public var branch: String?
    public var headSHA: String?
    public var dependsOn: [Int64]

    public init(
        id: Int64, tenant: String, repo: String, title: String, body: String, acceptance: String? = nil,
        state: ItemState, attempt: Int = 0, parentID: Int64? = nil, budgetMicros: Micros? = nil, spentMicros: Micros = 0,
        createdAt: Date, updatedAt: Date, notBefore: Date? = nil, branch: String? = nil, headSHA: String? = nil,
        dependsOn: [Int64] = [], isEpic: Bool = false
    ) {
        self.isEpic = isEpic
        self.id = id
        self.tenant = tenant
        self.repo = repo
        self.title = title
        self.body = body
        self.acceptance = acceptance
        self.state = state
        self.attempt = attempt
        self.parentID = parentID
        self.budgetMicros = budgetMicros
        self.spentMicros = spentMicros
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.notBefore = notBefore
        self.branch = branch
        self.headSHA = headSHA
        self.dependsOn = dependsOn
    }
}

/// A row of `state_transitions`: one edge an item took, who made it and why.
public struct StateTransition: Sendable, Equatable, Codable {
    public var id: Int64
    public var itemID: Int64
    /// nil for the row that records the item's creation.
    public var from: ItemState?
    public var to: ItemState
    public var reason: String
    public var actor: String
    public var at: Date

    public init(id: Int64, itemID: Int64, from: ItemState?, to: ItemState, reason: String, actor: String, at: Date) {
        self.id = id
        self.itemID = itemID
        self.from = from
        self.to = to
        self.reason = reason
        self.actor = actor
        self.at = at
    }
}

/// A row of `agent_runs`: one invocation of an agent.
public struct AgentRun: Sendable, Equatable, Codable {
    public var id: Int64
    public var itemID: Int64
    public var attempt: Int
    public var stage: String
    public var agent: String
    public var command: String
    public var startedAt: Date
    public var endedAt: Date?
    public var exitCode: Int?
    public var outcome: String?
    public var transcriptPath: String?
    public var promptSHA256: String
    public var pid: Int?

    public init(
        id: Int64, itemID: Int64, attempt: Int, stage: String, agent: String, command: String, startedAt: Date,
        endedAt: Date? = nil, exitCode: Int? = nil, outcome: String? = nil, transcriptPath: String? = nil,
        promptSHA256: String, pid: Int? = nil
    ) {
        self.id = id
        self.itemID = itemID
        self.attempt = attempt
        self.stage = stage
        self.agent = agent
        self.command = command
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exitCode = exitCode
        self.outcome = outcome
        self.transcriptPath = transcriptPath
        self.promptSHA256 = promptSHA256
        self.pid = pid
    }
}

/// What one agent invocation consumed: a row of `cost_events`.
public struct CostEvent: Sendable, Equatable, Codable {
    public var model: String?
    public var turns: Int?
    public var inputTokens: Int
    public var outputTokens: Int
    public var cacheReadTokens: Int
    public var cacheWriteTokens: Int
    public var costMicros: Micros
    /// Where ``costMicros`` comes from.
    public var source: CostSource

    public init(
        model: String? = nil, turns: Int? = nil, inputTokens: Int = 0, outputTokens: Int = 0, cacheReadTokens: Int = 0,
        cacheWriteTokens: Int = 0, costMicros: Micros = 0, source: CostSource = .reported
    ) {
        self.source = source
        self.model = model
        self.turns = turns
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.costMicros = costMicros
    }
}

/// Where a cost figure comes from (`cost_events.cost_source`).
public enum CostSource: String, Sendable, Equatable, Codable, CaseIterable {
    /// The agent reported what the run cost.
    case reported
    /// Priced from the tokens with the pricing table in keel.yml.
    case priced
    /// Neither: the agent reported no cost and its model is not in the pricing table (cost 0).
    case unpriced
}

/// One entry of an item's memory (`item_history`): what an attempt tried and why it failed,
/// handed to the next attempt.
public struct HistoryEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var itemID: Int64
    public var attempt: Int
    public var stage: String
    /// `failure`, `checks_output`, `human_retry`, `note`.
    public var kind: String
    /// Failure signature for the circuit breaker (nil for notes).
    public var signature: String?
    public var summary: String
    public var detail: String
    public var at: Date

    public init(
        id: Int64, itemID: Int64, attempt: Int, stage: String, kind: String, signature: String?, summary: String,
        detail: String, at: Date
    ) {
        self.id = id
        self.itemID = itemID
        self.attempt = attempt
        self.stage = stage
        self.kind = kind
        self.signature = signature
        self.summary = summary
        self.detail = detail
        self.at = at
    }
}
