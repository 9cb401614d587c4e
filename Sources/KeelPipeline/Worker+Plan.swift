import Foundation
import KeelAgents
import KeelCore
import KeelGit
import KeelStore

extension Worker {
    /// The planner (field report 002): an epic is decomposed by the planner agent into
    /// sub-issues with dependency edges. The plan is validated (unknown ids and cycles are
    /// rejected with the reason, which the next planning attempt reads); a valid plan files the
    /// sub-issues and parks the epic in `blocked` in one transaction. The scheduler runs each
    /// sub-issue once its dependencies merged, and the epic closes when its sub-issues do.
    func plan(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        let paths = WorkspacePaths(root: config.workspaces, itemID: item.id)
        let agent = config.planner ?? config.agent
        let invocation = try AgentInvocation(agent: agent, sampleAgentCommand: env.sampleAgentCommand, baseDirectory: env.configDirectory)
        let dir = paths.itemRoot + "/plan"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: paths.itemRoot, withIntermediateDirectories: true)
        try await env.git.clone(config.forge.local.origin, into: dir, branch: config.forge.local.base)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let history = try await store.history(of: item.id)
        let brief = try await writeBrief(item, paths, history: history)
        let planFile = paths.meta + "/plan.json"
        try? FileManager.default.removeItem(atPath: planFile)
        let earlier = history.last { $0.signature == "plan_invalid" }.map { "\nThe last plan was rejected: \($0.summary). Fix that.\n" } ?? ""
        let prompt = """
            You are planning epic #\(item.id) of \(config.project): \(item.title)

            Decompose it into sub-issues that can each be developed, reviewed and merged on their own, in the order the \
            work must happen. The current directory is a clone of the repository; do not modify it. Write the plan to \
            \(planFile) (also in $KEEL_PLAN_FILE), or end your final message with it, as one JSON object:
            {"issues": [{"id": "short-id", "title": "...", "body": "what to do", "acceptance": "how to tell it is done", "depends_on": ["other-id"]}]}
            depends_on lists ids of this plan that must merge first; no cycles.
            \(earlier)
            \(brief.task)
            """
        var spec = invocation.spec(
            item: item, workspace: dir, taskPath: paths.taskFile, historyPath: paths.historyFile, promptPath: paths.meta + "/plan-prompt.md",
            prompt: prompt, transcriptPath: transcriptPath(item, stage: "plan"), config: config)
        try paths.write(prompt, to: paths.meta + "/plan-prompt.md")
        spec.environment["KEEL_PLAN_FILE"] = planFile
        let report: AgentRunReport
        switch try await finishedOrRequeued(
            try await runAgent(invocation, item: item, lease: lease, stage: "plan", spec: spec, prompt: prompt), item, lease, stage: "plan")
        {
        case .finished(let finished): report = finished
        case .settled(let settled): return settled
        }
        let text = (try? String(contentsOfFile: planFile, encoding: .utf8)) ?? report.result?.message.flatMap { $0.contains("issues") ? $0 : nil }
            ?? report.stdoutTail
        let plan: EpicPlan
        do {
            plan = try EpicPlan.parse(text)
        } catch {
            return try await fail(
                item, lease, stage: "plan", outcome: .retryableFailure, signature: "plan_invalid", errorClass: .policy,
                summary: "the plan was rejected: \(error.reason)", detail: Self.tail(text, limit: 4096), backoff: false)
        }
        let now = env.clock.now()
        let (epic, released, children) = try await store.recordPlan(
            lease, issues: plan.issues.map { PlannedIssue(key: $0.id, title: $0.title, body: $0.body, acceptance: $0.acceptance, dependsOn: $0.dependsOn) },
            reason: "planned \(plan.issues.count) sub-issue(s); the epic closes when they merge",
            note: NewHistoryEntry(
                stage: "plan", kind: "plan", signature: nil,
                summary: plan.issues.map { "\($0.id): \($0.title)" + ($0.dependsOn.isEmpty ? "" : " (after \($0.dependsOn.joined(separator: ", ")))") }
                    .joined(separator: "\n"),
                detail: Self.tail(text, limit: 8192)),
            actor: name, now: now)
        for child in children {
            env.events.emit(.transition(item: child, from: nil, to: child.state, reason: "planned from epic #\(item.id)", actor: name, at: now))
        }
        env.events.emit(.transition(item: epic, from: .planning, to: epic.state, reason: "planned \(children.count) sub-issue(s)", actor: name, at: now))
        return (epic, released)
    }
}
