import Foundation
import KeelAgents
import KeelCore
import KeelGit
import KeelStore

extension Worker {
    /// The reviewer agent (field report 002's Inspector): after the deterministic checks, an agent
    /// reviews the change against the issue's acceptance criteria and ends with a JSON verdict.
    /// APPROVE goes on to merge; CHANGES_REQUESTED and PARTIAL go back to develop with the items;
    /// an unreadable verdict goes to a person, review-ready, instead of being retried into the
    /// same parse failure.
    func review(_ item: WorkItem, _ lease: Lease, reviewer: KeelConfig.Agent, head: String, branch: String) async throws -> (WorkItem, Lease) {
        let paths = WorkspacePaths(root: config.workspaces, itemID: item.id)
        let invocation = try AgentInvocation(agent: reviewer, sampleAgentCommand: env.sampleAgentCommand, baseDirectory: env.configDirectory)
        // Its own clone of the pushed branch: the reviewer reads the change, it never edits the developer's.
        try? FileManager.default.removeItem(atPath: paths.reviewClone)
        try FileManager.default.createDirectory(atPath: paths.itemRoot, withIntermediateDirectories: true)
        try await env.git.clone(config.forge.local.origin, into: paths.reviewClone, branch: branch)
        guard try await env.git.revParse("HEAD", in: paths.reviewClone) == head else {
            return try await fail(
                item, lease, stage: "review", outcome: .retryableFailure, signature: "review_head_moved", errorClass: .transient,
                summary: "\(branch) no longer points at \(head.prefix(7)); developing again", detail: "", backoff: false)
        }
        let base = config.forge.local.base
        let diff = try await env.git.run(["diff", "origin/\(base)...HEAD"], in: paths.reviewClone)
        let brief = try await writeBrief(item, paths)
        try paths.write(diff, to: paths.diffFile)
        let prompt = Self.reviewPrompt(item: item, project: config.project, base: base, task: brief.task, diffPath: paths.diffFile)
        try paths.write(prompt, to: paths.reviewPromptFile)
        var spec = invocation.spec(
            item: item, workspace: paths.reviewClone, taskPath: paths.taskFile, historyPath: paths.historyFile,
            promptPath: paths.reviewPromptFile, prompt: prompt, transcriptPath: transcriptPath(item, stage: "review"), config: config)
        spec.environment["KEEL_DIFF_FILE"] = paths.diffFile
        spec.environment["KEEL_REVIEW"] = "1"

        let report: AgentRunReport
        switch try await runAgent(invocation, item: item, lease: lease, stage: "review", spec: spec, prompt: prompt) {
        case .finished(let finished):
            report = finished
        case .failed(let failure):
            return try await reviewerFailed(item, lease, failure)
        case .interrupted:
            return try await uncancelled {
                try await move(lease, .interrupted, "reviewer stopped: Keel is shutting down; the review restarts on the next start", ItemChanges())
            }
        case .overBudget(let refusal):
            return try await overBudget(lease, refusal, stage: "review")
        }
        // The verdict is in the final message; agents without one (a command, aider) print it on stdout.
        let text = report.result?.message.flatMap { $0.contains("verdict") ? $0 : nil } ?? report.stdoutTail
        let verdict: ReviewVerdict
        do {
            verdict = try ReviewVerdict.parse(text)
        } catch {
            let reason = "the reviewer's verdict could not be read (\(error.reason)); not retried into the same failure: "
                + "\(branch) at \(head.prefix(7)) passed CI and the checks and is review-ready for a person"
            return try await move(
                lease, .escalated, reason,
                ItemChanges(history: [
                    NewHistoryEntry(
                        stage: "review", kind: "review_ready", signature: "verdict_unparseable", summary: reason, detail: Self.tail(text, limit: 2048))
                ]))
        }
        let confidence = String(format: "%.2f", verdict.confidence)
        let listed = verdict.items.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n")
        switch verdict.decision {
        case .approve where verdict.confidence < config.inspect.minConfidence:
            let reason = "the reviewer approved with confidence \(confidence), below inspect.min_confidence "
                + "\(String(format: "%.2f", config.inspect.minConfidence)): \(branch) at \(head.prefix(7)) is review-ready for a person"
            return try await move(
                lease, .escalated, reason,
                ItemChanges(history: [NewHistoryEntry(stage: "review", kind: "review_ready", signature: "review_low_confidence", summary: reason, detail: listed)]))
        case .approve:
            return try await move(
                lease, .inspectionPassed, "the reviewer approved \(head.prefix(7)) (confidence \(confidence))",
                ItemChanges(history: [
                    NewHistoryEntry(stage: "review", kind: "verdict", signature: nil, summary: "APPROVE (confidence \(confidence))", detail: listed)
                ]))
        case .changesRequested, .partial:
            return try await fail(
                item, lease, stage: "review", outcome: .inspectionFailed, signature: "review:\(verdict.decision.rawValue.lowercased())",
                errorClass: .policy,
                summary: "the reviewer returned \(verdict.decision.rawValue) (confidence \(confidence)) with \(verdict.items.count) item(s)",
                detail: listed, backoff: false)
        }
    }

    /// A reviewer run that failed (timeout, API error, no token): the change itself is not at
    /// fault, so the item stays in review and is retried after a backoff, up to the breaker's
    /// threshold; a permanent failure goes to a person at once.
    func reviewerFailed(_ item: WorkItem, _ lease: Lease, _ failure: AgentRunFailure) async throws -> (WorkItem, Lease) {
        let signature = "reviewer_failed:" + failure.signature
        let note = NewHistoryEntry(stage: "review", kind: "failure", signature: signature, summary: failure.summary, detail: failure.detail)
        if failure.errorClass == .permanent {
            return try await move(lease, .escalated, "permanent failure of the reviewer: \(failure.summary)", ItemChanges(history: [note]))
        }
        let b = config.scheduler.backoff
        return try await retryInStage(
            item, lease, note: note, maxTries: config.scheduler.breakerThreshold - 1,
            backoff: Backoff(initialSeconds: Double(b.initialSeconds), maxSeconds: Double(b.maxSeconds), jitter: b.jitter),
            retryAfter: failure.retryAfter, exhausted: { tries in "the reviewer failed \(tries) times: \(failure.summary)" },
            waiting: { tries, delay in "#\(item.id) reviewer failed (\(failure.summary)); review try \(tries + 1) in \(String(format: "%.0f", delay)) s" })
    }

    static func reviewPrompt(item: WorkItem, project: String, base: String, task: String, diffPath: String) -> String {
        """
        You are reviewing a change for issue #\(item.id) of \(project): \(item.title)

        The issue and its acceptance criteria are below. The change against \(base) is in \(diffPath), and the current \
        directory is a clone of the branch. Judge whether the change meets the acceptance criteria; run the tests if you \
        need to. Do not modify any file.

        End your final message with one JSON object, exactly:
        {"verdict": "APPROVE" | "CHANGES_REQUESTED" | "PARTIAL", "items": ["what must change, one per item"], "confidence": <0 to 1>}
        APPROVE when every criterion is met (items may be empty); CHANGES_REQUESTED or PARTIAL with the items otherwise.

        \(task)
        """
    }
}
