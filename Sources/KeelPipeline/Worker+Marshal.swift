import Foundation
import KeelAgents
import KeelCore
import KeelForge
import KeelGit
import KeelStore

/// What the marshal decided about a branch before its merge.
enum MarshalDecision: Sendable {
    /// Merge `head` (the pushed head, or the head brought up to date with the base); `note` says what was done.
    case merge(head: String, note: String?)
    /// The item was sent back, escalated or deferred already.
    case settled((WorkItem, Lease))
}

extension Worker {
    /// The marshal (field report 002): before merging, bring the branch up to date with the
    /// current base in a clean clone. A clean update is pushed (through the pre-push guard) and
    /// checked; on conflicts the conflict-resolution agent (`marshal.agent`) resolves them and the
    /// resolution is scored (``ResolutionScore``): below `marshal.min_confidence` the item goes to a
    /// person. Without a resolution agent a conflict goes back to develop on the new base.
    func marshal(_ item: WorkItem, _ lease: Lease, head: String, branch: String) async throws -> MarshalDecision {
        let paths = WorkspacePaths(root: config.workspaces, itemID: item.id)
        let base = env.forge.baseBranch
        let dir = paths.itemRoot + "/marshal"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: paths.itemRoot, withIntermediateDirectories: true)
        try await env.git.clone(config.forge.local.origin, into: dir, branch: branch)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The recorded head is what was reviewed and checked; a descendant on the branch is not
        // trusted: the update is made again from the head, and pushed over the branch only when its
        // tip is a head Keel recorded (``pushBranch``), so someone else's commit is never overwritten.
        guard try await env.git.revParse(head, in: dir) != nil,
            try await env.git.isAncestor(head, of: "HEAD", in: dir)
        else {
            // A tip Keel never recorded is someone's commit: a person decides, before any agent
            // runs again and before anything could be pushed over it.
            if let tip = try await env.git.revParse("HEAD", in: dir), try await !store.recordedHeads(of: item.id).contains(tip) {
                return .settled(try await foreignBranch(lease, tip: tip, branch: branch, dir: dir))
            }
            return .settled(
                try await fail(
                    item, lease, stage: "merge", outcome: .retryableFailure, signature: "branch_moved", errorClass: .transient,
                    summary: "\(branch) no longer holds \(head.prefix(7)); developing again", detail: "", backoff: false))
        }
        // Already in the base (a merge that landed just before a restart): the forge records it, nothing is merged again.
        if try await env.git.isAncestor(head, of: "origin/\(base)", in: dir) { return .merge(head: head, note: nil) }
        _ = try await env.git.run(["reset", "--quiet", "--hard", head], in: dir)
        let current = head
        var candidate = head
        var note: String?
        if try await !env.git.isAncestor("origin/\(base)", of: candidate, in: dir) {
            if let keel = env.keelExecutable {
                _ = try await GuardInstaller.install(in: dir, keelExecutable: keel, git: env.git)
                _ = try await env.git.run(["config", "keel.guard.base", base], in: dir)
            }
            let message = "Merge \(base) into \(branch)"
            switch try await env.git.mergeKeepingConflicts("origin/\(base)", message: message, in: dir) {
            case .merged(let sha), .alreadyUpToDate(let sha):
                candidate = sha
                note = "brought up to date with \(base)"
            case .conflicted(let files, let report):
                guard let resolver = config.marshal.agent else {
                    return .settled(
                        try await fail(
                            item, lease, stage: "merge", outcome: .mergeConflict, signature: "merge_conflict", errorClass: .policy,
                            summary: "\(branch) conflicts with \(base) in \(files.joined(separator: ", ")); developing again on the new base",
                            detail: Self.tail(report), backoff: false))
                }
                switch try await resolve(item, lease, resolver: resolver, files: files, head: current, dir: dir, branch: branch, message: message) {
                case .merge(let resolved, let resolvedNote):
                    candidate = resolved
                    note = resolvedNote
                case .settled(let settled):
                    return .settled(settled)
                }
            }
            if let refused = try await pushUpdate(item, lease, head: candidate, dir: dir, branch: branch) { return .settled(refused) }
        }
        guard candidate != head else { return .merge(head: head, note: nil) }
        // The updated head must pass the checks as the original did.
        let record = try await checks(kind: "ci", item: item, head: candidate) {
            try await env.forge.runChecks(branch: branch, headSHA: candidate)
        }
        guard record.passed else {
            return .settled(
                try await fail(
                    item, lease, stage: "merge", outcome: .retryableFailure, signature: "checks_failed_after_update", errorClass: .policy,
                    summary: "\(branch) brought up to date with \(base) fails the checks at \(candidate.prefix(7)); developing again on the new base",
                    detail: Self.tail(record.output), backoff: false))
        }
        return .merge(head: candidate, note: note ?? "brought up to date with \(base)")
    }

    /// Pushes the updated branch (`head`, checked out in `dir`) through the pre-push guard, over
    /// a tip Keel recorded only, and records `head` as the item's; the item's settled state when
    /// the guard or the push refused, or the branch holds someone else's commit.
    private func pushUpdate(_ item: WorkItem, _ lease: Lease, head: String, dir: String, branch: String) async throws -> (WorkItem, Lease)? {
        do {
            if let foreign = try await pushBranch(item, lease, head: head, branch: branch, in: dir) { return foreign }
            // Recorded at once: after a restart or a lost race, this update is Keel's, not a stranger's.
            try await store.recordHead(lease, head: head, now: env.clock.now())
            return nil
        } catch let error as GitError where error.standardError.contains("keel guard: refused") {
            // Nothing merges with conflict markers: a resolution the guard refuses goes to a person.
            return try await move(
                lease, .escalated, "the pre-push guard refused the updated \(branch): \(error.standardError.split(separator: "\n").first ?? "")",
                ItemChanges(history: [
                    NewHistoryEntry(stage: "merge", kind: "failure", signature: "guard_refused", summary: "the guard refused the marshal's push", detail: Self.tail(error.standardError))
                ]))
        } catch let error as GitError {
            let verdict = env.classifier.classify(error.standardError, now: env.clock.now())
            return try await fail(
                item, lease, stage: "merge", outcome: .retryableFailure, signature: "push_failed:\(verdict.rule)", errorClass: verdict.class,
                summary: "pushing the updated \(branch) failed [\(verdict.class.rawValue): \(verdict.rule)]", detail: Self.tail(error.standardError),
                backoff: true, retryAfter: verdict.retryAfterSeconds)
        }
    }

    /// Runs the conflict-resolution agent on the conflicted merge in `dir`, commits its
    /// resolution and scores it.
    private func resolve(
        _ item: WorkItem, _ lease: Lease, resolver: KeelConfig.Agent, files: [String], head: String, dir: String, branch: String, message: String
    ) async throws -> MarshalDecision {
        let paths = WorkspacePaths(root: config.workspaces, itemID: item.id)
        let base = env.forge.baseBranch
        let invocation = try AgentInvocation(agent: resolver, sampleAgentCommand: env.sampleAgentCommand, baseDirectory: env.configDirectory)
        _ = try await writeBrief(item, paths)
        let prompt = """
            Merging \(base) into \(branch) (issue #\(item.id): \(item.title)) conflicts in: \(files.joined(separator: ", ")).
            The merge is in progress in the current directory. Resolve every conflict so that both the issue's change and \
            the changes on \(base) are kept, remove every conflict marker, and `git add` the files. Do not commit, push or \
            abort the merge. The issue is in \(paths.taskFile).
            """
        let promptFile = paths.meta + "/resolve-prompt.md"
        try paths.write(prompt, to: promptFile)
        var spec = invocation.spec(
            item: item, workspace: dir, taskPath: paths.taskFile, historyPath: paths.historyFile, promptPath: promptFile, prompt: prompt,
            transcriptPath: transcriptPath(item, stage: "resolve"), config: config)
        spec.environment["KEEL_CONFLICT_FILES"] = files.joined(separator: "\n")
        switch try await runAgent(invocation, item: item, lease: lease, stage: "resolve", spec: spec, prompt: prompt) {
        case .finished:
            break
        case .failed(let failure):
            _ = try? await env.git.run(["merge", "--abort"], in: dir)
            return .settled(
                try await fail(
                    item, lease, stage: "merge", outcome: .retryableFailure, signature: "resolver_failed:" + failure.signature,
                    errorClass: failure.errorClass, summary: "the conflict-resolution agent failed: \(failure.summary)", detail: failure.detail,
                    backoff: true, retryAfter: failure.retryAfter))
        case .interrupted:
            return .settled(try await uncancelled { try await move(lease, .interrupted, "resolver stopped: Keel is shutting down", ItemChanges()) })
        case .overBudget(let refusal):
            _ = try? await env.git.run(["merge", "--abort"], in: dir)
            return .settled(try await overBudget(lease, refusal, stage: "merge"))
        }

        // Score: every conflict resolved, the size of what the resolution invented, then the checks.
        // The agent may have committed the merge itself (a two-parent commit on top of the head)
        // or aborted it (back at the head, nothing merged): the first counts, the second does not.
        let merging = try await env.git.revParse("MERGE_HEAD", in: dir) != nil
        let now = try await env.git.revParse("HEAD", in: dir)
        let parents = try await env.git.run(["rev-list", "--parents", "-n", "1", "HEAD"], in: dir).split(separator: " ").count - 1
        let committedByAgent = !merging && now != head && parents == 2
        let markers = files.flatMap { ConflictMarker.scan(file: dir + "/" + $0, as: $0) }
        let unmerged = try await env.git.conflictedFiles(in: dir)
        var resolved = markers.isEmpty && unmerged.isEmpty && (merging || committedByAgent)
        var invented = 0
        for file in files {
            let ours = Set(try await Self.lines(of: "\(head):\(file)", in: dir, git: env.git))
            let theirs = Set(try await Self.lines(of: "origin/\(base):\(file)", in: dir, git: env.git))
            let result = ((try? String(contentsOfFile: dir + "/" + file, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            invented += result.filter { !ours.contains(String($0)) && !theirs.contains(String($0)) && !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
        }
        let original = try await env.git.run(["diff", "--numstat", "origin/\(base)...\(head)"], in: dir).split(separator: "\n").reduce(0) { sum, line in
            let parts = line.split(separator: "\t")
            return sum + (parts.count >= 2 ? (Int(parts[0]) ?? 0) + (Int(parts[1]) ?? 0) : 0)
        }
        var checksPassed = false
        var checkOutput = ""
        var resolvedHead: String?
        if resolved {
            if merging {
                _ = try await env.git.run(["add", "-A"], in: dir)
                _ = try await env.git.run(["-c", "user.name=keel", "-c", "user.email=keel@localhost", "commit", "--no-edit", "-m", message], in: dir)
            }
            resolvedHead = try await env.git.revParse("HEAD", in: dir)
            if let resolvedHead, let refused = try await pushUpdate(item, lease, head: resolvedHead, dir: dir, branch: branch) {
                return .settled(refused)
            }
            if let resolvedHead {
                let record = try await checks(kind: "ci", item: item, head: resolvedHead) {
                    try await env.forge.runChecks(branch: branch, headSHA: resolvedHead)
                }
                checksPassed = record.passed
                checkOutput = record.output
            }
        } else {
            resolved = false
        }
        let score = ResolutionScore(resolved: resolved, checksPassed: checksPassed, inventedLines: invented, originalLines: original)
        let summary = "conflict resolution in \(files.joined(separator: ", ")): \(score.explanation)"
        guard let resolvedHead, score.confidence >= config.marshal.minConfidence else {
            let left = markers.isEmpty ? "" : "; markers left at \(markers.prefix(5).map(\.description).joined(separator: ", "))"
            return .settled(
                try await move(
                    lease, .escalated,
                    "\(summary), below marshal.min_confidence \(config.marshal.minConfidence)\(left): a person must look at \(branch)",
                    ItemChanges(history: [
                        NewHistoryEntry(
                            stage: "merge", kind: "failure", signature: "resolution_low_confidence", summary: summary,
                            detail: Self.tail(checkOutput))
                    ])))
        }
        return .merge(head: resolvedHead, note: summary)
    }

    /// The lines of `object` (`rev:path`), or none when it does not exist there.
    static func lines(of object: String, in dir: String, git: Git) async throws -> [String] {
        guard let text = try? await git.run(["show", object], in: dir) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
