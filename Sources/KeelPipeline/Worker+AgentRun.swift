import Foundation
import KeelAgents
import KeelCore
import KeelStore
import ServiceLifecycle

/// How one agent run ended, for the stage that started it.
struct AgentRunReport: Sendable {
    /// The agent's normalized result, when its output held one.
    var result: AgentResult?
    var exitCode: Int?
    /// The last 8 KiB of its (redacted) output, stderr first.
    var tail: String
    /// All of stdout as kept by the runner (redacted, bounded), for verdicts printed as text.
    var stdoutTail: String
    var cost: CostEvent?
}

/// A failure of an agent run, already classified, for the stage to record its own way.
struct AgentRunFailure: Sendable {
    var signature: String
    var errorClass: ErrorClass
    var summary: String
    var detail: String
    var retryAfter: Int?
}

/// A stage's agent run: finished, or already settled (failure recorded, or interrupted).
enum RunStep: Sendable {
    case finished(AgentRunReport)
    case settled((WorkItem, Lease))
}

enum AgentRunEnd: Sendable {
    case finished(AgentRunReport)
    case failed(AgentRunFailure)
    /// Keel is shutting down: the run was stopped and the item must go back to the queue.
    case interrupted
    /// The run was not started: its reservation would cross a budget ceiling.
    case overBudget(BudgetRefusal)
}

extension Worker {
    /// Runs `invocation` for `item` in its stage: borrows a token, records the `agent_runs` row,
    /// parses the output with the agent's adapter, records the cost, and classifies a failure
    /// (no token, launch failure, timeouts, a failure the agent reported, a non-zero exit with
    /// no result). Exit codes alone never decide a failure when the output holds a result.
    func runAgent(
        _ invocation: AgentInvocation, item: WorkItem, lease: Lease, stage: String, spec: ProcessSpec, prompt: String
    ) async throws -> AgentRunEnd {
        var spec = spec
        // The agent gets an allowlist, never Keel's environment; every secret it may hold or find
        // is redacted from its output before anything reads it.
        spec.environment = AgentEnvironment(kind: invocation.agent.kind, inherited: env.processEnvironment)
            .variables(configured: spec.environment)
        spec.inheritsEnvironment = false
        spec.redactions += config.secretValues(in: env.processEnvironment) + AgentEnvironment.secrets(in: spec.environment)
        // Never two agents on one item: one a crashed worker left running is stopped first.
        try await killOrphans(of: item)
        // Budgets stop spend before the next run, not after it: every run reserves first (the
        // claim already reserved for the first one; this renews it for later stages).
        if let refusal = try await store.reserve(lease, budget: budget, now: env.clock.now()) {
            return .overBudget(refusal)
        }
        // The lent credential is the configured agent's: another kind of agent (a codex reviewer
        // beside a Claude Code developer) neither needs nor gets it.
        if let tokens = env.tokens, invocation.agent.kind == config.agent.kind {
            // A borrowed token, current for at least the broker's minimum lifetime (field report,
            // incident 5): never the stored one as it is, and never on the command line.
            do {
                try await tokens.environment(for: invocation.agent.kind).apply(to: &spec)
            } catch let error as TokenError {
                return .failed(
                    AgentRunFailure(
                        signature: "token:\(error.code.name)", errorClass: error.errorClass,
                        summary: "no access token for the agent: \(error.message)", detail: "",
                        retryAfter: error.retryAfter.map { Int($0.components.seconds) }))
            }
        }
        let runID = try await store.startAgentRun(
            itemID: item.id, attempt: item.attempt, stage: stage, agent: invocation.name, command: invocation.commandLine,
            transcriptPath: spec.transcriptPath, promptSHA256: Digest.sha256Hex(prompt), now: env.clock.now())
        let parser = StreamParserBox(invocation.format.makeParser())
        let store = self.store
        let agentSpec = spec
        let outcome: ProcessOutcome
        do {
            outcome = try await cancelWhenGracefulShutdown {
                try await env.runner.run(
                    agentSpec, onStart: { pid in try? await store.setAgentRunPID(runID, pid: Int(pid)) },
                    watch: { _, line in parser.consume(line) })
            }
        } catch {
            try await uncancelled {
                try await store.finishAgentRun(runID, exitCode: nil, outcome: "launch_failed", cost: nil, now: env.clock.now())
            }
            return .failed(
                AgentRunFailure(
                    signature: "agent_launch", errorClass: .transient, summary: "the agent could not be started: \(error)", detail: "",
                    retryAfter: nil))
        }
        let result = parser.finish()
        let exitCode: Int? = if case .exited(let code) = outcome.termination { Int(code) } else { nil }
        let runOutcome: String =
            if outcome.cancelled { "interrupted" } else if let t = outcome.timedOut { "timeout_\(t.rawValue)" } else {
                result?.outcome.rawValue ?? (exitCode == 0 ? "success" : "error")
            }
        // A row per invocation, even one that died without a result: its spend is then unknown, and
        // `keel cost` counts it as unpriced rather than leaving it out.
        let cost = result.map { invocation.costEvent($0, config: config) } ?? CostEvent(model: invocation.agent.model, source: .unpriced)
        try await uncancelled {
            try await store.finishAgentRun(runID, exitCode: exitCode, outcome: runOutcome, cost: cost, now: env.clock.now())
        }
        if outcome.cancelled { return .interrupted }

        let tail = Self.tail(outcome.stderrTail.isEmpty ? outcome.stdoutTail : outcome.stderrTail + "\n" + outcome.stdoutTail)
        let timeouts = invocation.agent.timeouts
        if let timeout = outcome.timedOut {
            // A hang with no output is killed by the inactivity timeout (field report 002).
            let summary =
                timeout == .inactivity
                ? "the agent printed nothing for \(timeouts.inactivitySeconds) s and was killed (inactivity timeout)"
                : "the agent ran past the \(timeouts.wallClockSeconds) s wall-clock limit and was killed"
            return .failed(
                AgentRunFailure(signature: "agent_timeout:\(timeout.rawValue)", errorClass: .transient, summary: summary, detail: tail, retryAfter: nil))
        }
        if let result, result.outcome != .success || result.isError {
            let verdict = env.classifier.classify(result, now: env.clock.now())
            return .failed(
                AgentRunFailure(
                    signature: "agent_\(result.outcome.rawValue):\(verdict.rule)", errorClass: verdict.class,
                    summary: "the agent reported \(result.outcome.rawValue): \(result.message ?? "no message") [\(verdict.class.rawValue): \(verdict.rule)]",
                    detail: tail, retryAfter: verdict.retryAfterSeconds))
        }
        if result == nil, exitCode != 0 {
            // Exit codes say little: the output says what happened (field report 001, incident 2).
            let verdict = env.classifier.classify(tail, now: env.clock.now())
            return .failed(
                AgentRunFailure(
                    signature: "agent_exit:\(exitCode.map(String.init) ?? "signal"):\(verdict.rule)", errorClass: verdict.class,
                    summary: "the agent \(outcome.termination.words) [\(verdict.class.rawValue): \(verdict.rule)]", detail: tail,
                    retryAfter: verdict.retryAfterSeconds))
        }
        return .finished(AgentRunReport(result: result, exitCode: exitCode, tail: tail, stdoutTail: outcome.stdoutTail, cost: cost))
    }

    /// The report of a finished run; a failed run is recorded as a retryable failure of `stage`
    /// (back to the queue, after a backoff, up to the breaker) and an interrupted one as
    /// interrupted: `.settled` with the item's new state.
    func finishedOrRequeued(_ end: AgentRunEnd, _ item: WorkItem, _ lease: Lease, stage: String) async throws -> RunStep {
        switch end {
        case .finished(let report):
            return .finished(report)
        case .failed(let failure):
            return .settled(
                try await fail(
                    item, lease, stage: stage, outcome: .retryableFailure, signature: failure.signature, errorClass: failure.errorClass,
                    summary: failure.summary, detail: failure.detail, backoff: true, retryAfter: failure.retryAfter))
        case .interrupted:
            return .settled(
                try await uncancelled {
                    try await move(lease, .interrupted, "\(stage) stopped: Keel is shutting down; it restarts on the next start", ItemChanges())
                })
        case .overBudget(let refusal):
            return .settled(try await overBudget(lease, refusal, stage: stage))
        }
    }

    /// Sends the item to a person with the budget's figures: no agent run was started.
    func overBudget(_ lease: Lease, _ refusal: BudgetRefusal, stage: String) async throws -> (WorkItem, Lease) {
        try await move(
            lease, .escalated, refusal.message,
            ItemChanges(history: [
                NewHistoryEntry(stage: stage, kind: "failure", signature: "budget:\(refusal.scope.rawValue)", summary: refusal.message)
            ]))
    }

    /// Writes the item's task and history files beside its clone; the brief for prompts.
    func writeBrief(_ item: WorkItem, _ paths: WorkspacePaths, history: [HistoryEntry]? = nil, claims: Bool = false) async throws -> TaskBrief {
        try paths.createMeta()
        let entries: [HistoryEntry]
        if let history { entries = history } else { entries = try await store.history(of: item.id) }
        let brief = TaskBrief(
            item: item, project: config.project, history: entries, taskPath: paths.taskFile,
            historyPath: paths.historyFile, claimsPath: claims ? paths.claimsFile : nil)
        try paths.write(brief.task, to: paths.taskFile)
        try paths.write(brief.history, to: paths.historyFile)
        return brief
    }

    /// The transcript path of a run of `stage` for `item`'s current attempt.
    func transcriptPath(_ item: WorkItem, stage: String) -> String {
        let stamp = Int64(env.clock.now().timeIntervalSince1970 * 1000)
        return "\(config.transcripts)/item-\(item.id)/attempt-\(item.attempt)-\(stage)-\(stamp).log"
    }
}
