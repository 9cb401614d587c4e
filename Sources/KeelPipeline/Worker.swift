import Foundation
import KeelAgents
import KeelCore
import KeelForge
import KeelGit
import KeelStore
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One worker: claims an item, runs its stages under a lease in its own clone, and records every
/// step. Stages chain while the item stays active, so a claimed item is carried as far as it can go.
struct Worker: Sendable {
    let name: String
    let env: PipelineEnvironment

    var config: KeelConfig { env.config }
    var store: any Store { env.store }
    var leaseSeconds: Double { Double(config.scheduler.leaseSeconds) }
    /// The budget policy claims and runs reserve against: keel.yml's, or none but an item's own
    /// `budget_micros` (`keel submit --budget-usd`) with the default estimate.
    var budget: BudgetPolicy { config.budgets ?? BudgetPolicy(estimateMicros: KeelConfig.defaultBudgetEstimate) }

    /// Claims and processes one item; false when nothing was ready.
    func step() async throws -> Bool {
        let now = env.clock.now()
        let claim = try await store.claimNext(owner: name, now: now, leaseSeconds: leaseSeconds, budget: budget)
        for stop in claim.refused {
            // Not dequeued: the reservation would cross a ceiling, so a person decides (with the figures).
            // An agent a crashed worker left running on it must not keep spending.
            try await killOrphans(of: stop.item)
            env.events.emit(.transition(item: stop.item, from: stop.from, to: stop.item.state, reason: stop.refusal.message, actor: name, at: now))
        }
        guard let (item, lease) = claim.claimed else { return !claim.refused.isEmpty }
        await process(item, lease)
        return true
    }

    func process(_ claimed: WorkItem, _ claimedLease: Lease) async {
        var item = claimed
        var lease = claimedLease
        do {
            while item.state.isActive || item.state == .queued {
                let snapshot = (item, lease)
                (item, lease) = try await withHeartbeat(lease) { try await runStage(snapshot.0, snapshot.1) }
                if item.state == .queued { break }
            }
            let held = lease
            try await uncancelled { try await store.release(held) }
            // The clone goes once the item is merged, outside the stage's heartbeat: a renewal
            // while it is removed would find the lease's state gone and report a lost lease.
            if item.state == .merged { WorkspacePaths(root: config.workspaces, itemID: item.id).remove() }
        } catch is StageDeferred {
            // The stage let the item go to wait (checks not in yet, a merge to retry): nothing to release.
        } catch is CancellationError {
            // The scheduler itself was cancelled: not the item's failure. Let go of the lease so the
            // next start resumes the item at its stage at once.
            let held = lease
            try? await uncancelled { try await store.release(held) }
        } catch let error as StoreError where error.code == .staleLease {
            warn(item.id, "\(name) stopped working on #\(item.id): \(error.message)")
        } catch {
            // A stage failed in a way it did not handle: an error of Keel's own, or the store. Record it
            // as a retryable failure of that stage so the item is neither lost nor stuck.
            let message = "\(error)"
            let (itemID, held) = (item.id, lease)
            warn(itemID, "stage \(item.state) of #\(itemID) failed: \(message)")
            do {
                let current = try await uncancelled { try await store.item(itemID) }
                if let current, current.state == held.state, current.state.isActive {
                    _ = try await uncancelled {
                        try await fail(
                            current, held, stage: current.state.rawValue, outcome: .retryableFailure,
                            signature: "internal:\(current.state.rawValue)", errorClass: .transient, summary: "Keel error: \(message)",
                            detail: "", backoff: true)
                    }
                }
                try await uncancelled { try await store.release(held) }
            } catch {
                warn(item.id, "could not record the failure of #\(item.id): \(error); the lease expires in \(Int(leaseSeconds)) s")
            }
        }
    }

    /// Runs `body` while renewing the lease; a lease lost meanwhile cancels the body.
    func withHeartbeat<T: Sendable>(_ lease: Lease, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let interval = max(0.2, leaseSeconds / 3)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                var current = lease
                while true {
                    try await Task.sleep(for: .seconds(interval))
                    current = try await store.renew(current, now: env.clock.now(), leaseSeconds: leaseSeconds)
                }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    func runStage(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        switch item.state {
        case .queued where item.isEpic:
            return try await move(lease, .planningStarted, "epic: planning sub-issues with \((config.planner ?? config.agent).kind.rawValue)", ItemChanges(incrementAttempt: true, notBefore: .some(nil)))
        case .planning: return try await plan(item, lease)
        case .queued:
            let (started, newLease) = try await move(
                lease, .claimed, "attempt \(item.attempt + 1): developing with \(config.agent.kind.rawValue)",
                ItemChanges(incrementAttempt: true, notBefore: .some(nil)))
            return (started, newLease)
        case .developing: return try await develop(item, lease)
        case .pushing: return try await push(item, lease)
        case .awaitingCI: return try await awaitChecks(item, lease)
        case .inspecting: return try await inspect(item, lease)
        case .merging: return try await merge(item, lease)
        default:
            // Not a stage this worker runs (a person or another process moved it): let go.
            throw StoreError(.staleLease, "item #\(item.id) is \(item.state), which no worker stage handles")
        }
    }

    // MARK: Stages

    func develop(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        let paths = WorkspacePaths(root: config.workspaces, itemID: item.id)
        let invocation = try AgentInvocation(
            config: config, sampleAgentCommand: env.sampleAgentCommand, baseDirectory: env.configDirectory)
        let history = try await store.history(of: item.id)
        // After `keel reimplement`, the work starts over on a fresh branch (the old one stays for reference).
        let restarts = history.filter { $0.kind == HistoryEntry.reimplementKind }.count
        let branch = restarts == 0 ? paths.branch : "\(paths.branch)-v\(restarts + 1)"
        // Changes asked for by the reviewer or by failed checks (or a person's retry) are made on top
        // of the pushed work they are about; anything else starts again from the base.
        let continuing = item.branch == branch ? Self.continuation(item, history) : nil
        let baseHead = try await prepareClone(paths: paths, branch: branch, from: continuing)
        var brief = try await writeBrief(item, paths, history: history, claims: true)
        if let continuing, baseHead == continuing {
            brief.prompt += "\nYour branch already holds the previous attempt's work (commit \(continuing.prefix(7))): change it as the history says, do not start over.\n"
        }
        try paths.write(brief.prompt, to: paths.promptFile)

        try? FileManager.default.removeItem(atPath: paths.claimsFile)
        var spec = invocation.spec(
            item: item, workspace: paths.clone, taskPath: paths.taskFile, historyPath: paths.historyFile,
            promptPath: paths.promptFile, prompt: brief.prompt, transcriptPath: transcriptPath(item, stage: "develop"), config: config)
        spec.environment["KEEL_CLAIMS_FILE"] = paths.claimsFile
        let report: AgentRunReport
        switch try await finishedOrRequeued(
            try await runAgent(invocation, item: item, lease: lease, stage: "develop", spec: spec, prompt: brief.prompt), item, lease, stage: "develop")
        {
        case .finished(let finished): report = finished
        case .settled(let settled): return settled
        }
        let result = report.result
        let tail = report.tail
        let committed = try await env.git.commitAll(message: "keel: #\(item.id) \(item.title)\n\nAttempt \(item.attempt).", in: paths.clone)
        let head = try await env.git.revParse("HEAD", in: paths.clone)
        guard let head, committed != nil || head != baseHead else {
            return try await fail(
                item, lease, stage: "develop", outcome: .retryableFailure, signature: "no_changes", errorClass: .transient,
                summary: "the agent finished without changing any file", detail: tail, backoff: true)
        }
        // Evidence (field report 002): what the agent claims it addressed is checked against the
        // files on disk, by a manifest of path + SHA-256 of what this attempt changed.
        // NUL-separated and unquoted, so that any file name (spaces, non-ASCII) comes back as it is on disk.
        let changed = try await env.git.run(["-c", "core.quotePath=false", "diff", "--name-only", "-z", "--no-renames", baseHead, head], in: paths.clone)
            .split(separator: "\0").map(String.init).filter { !$0.isEmpty }
        let manifest = FileManifest.take(of: changed, in: paths.clone)
        try paths.write(manifest.text + "\n", to: paths.manifestFile)
        let claimsText = (try? String(contentsOfFile: paths.claimsFile, encoding: .utf8)) ?? result?.message ?? ""
        let claims = EvidenceClaim.parse(claimsText) ?? []
        let rejected = claims.compactMap { $0.rejection(against: manifest, in: paths.clone) }
        if !rejected.isEmpty {
            return try await fail(
                item, lease, stage: "develop", outcome: .retryableFailure, signature: "evidence_rejected", errorClass: .policy,
                summary: "the agent's claims do not match the files on disk: " + rejected.joined(separator: "; "),
                detail: "Files this attempt changed (path, SHA-256):\n" + manifest.text, backoff: false)
        }

        var reason = "agent finished"
        if let result {
            let spent = report.cost.map { $0.source == .unpriced ? "cost unknown" : Money.format($0.costMicros) } ?? ""
            reason += " (\(result.turns.map { "\($0) turn\($0 == 1 ? "" : "s"), " } ?? "")\(spent))"
        }
        reason += "; committed \(head.prefix(7)) on \(branch)"
        if !claims.isEmpty { reason += "; \(claims.count) claim(s) verified against the files" }
        // Memory (field report 002): what this attempt said it did stays with the item for the next one.
        var summary = "Changed \(changed.count) file(s): \(changed.prefix(20).joined(separator: ", "))"
        if let message = result?.message, !message.isEmpty { summary += "\n\nThe agent's summary: " + String(message.prefix(2000)) }
        let entry = NewHistoryEntry(stage: "develop", kind: "attempt", signature: nil, summary: summary, detail: manifest.text)
        return try await move(lease, .developed, reason, ItemChanges(branch: .some(branch), headSHA: .some(head), history: [entry]))
    }

    func push(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        let paths = WorkspacePaths(root: config.workspaces, itemID: item.id)
        guard let head = item.headSHA, let branch = item.branch,
            FileManager.default.fileExists(atPath: paths.clone + "/.git"),
            try await env.git.revParse("HEAD", in: paths.clone) == head
        else {
            return try await fail(
                item, lease, stage: "push", outcome: .retryableFailure, signature: "workspace_lost", errorClass: .transient,
                summary: "the worker clone no longer holds the committed work; developing again", detail: "", backoff: false)
        }
        do {
            if let foreign = try await pushBranch(item, lease, head: head, branch: branch, in: paths.clone) { return foreign }
        } catch let error as GitError where error.standardError.contains("keel guard: refused") {
            // The guard found something positive: the agent must fix its work, with the guard's words.
            return try await fail(
                item, lease, stage: "push", outcome: .retryableFailure, signature: "guard_refused", errorClass: .policy,
                summary: "the pre-push guard refused the push; the agent's work must be fixed", detail: Self.tail(error.standardError),
                backoff: false)
        } catch let error as GitError {
            let verdict = env.classifier.classify(error.standardError, now: env.clock.now())
            return try await fail(
                item, lease, stage: "push", outcome: .retryableFailure, signature: "push_failed:\(verdict.rule)", errorClass: verdict.class,
                summary: "git push failed [\(verdict.class.rawValue): \(verdict.rule)]", detail: Self.tail(error.standardError), backoff: true,
                retryAfter: verdict.retryAfterSeconds)
        }
        let pr = try await env.forge.openPullRequest(branch: branch, title: item.title)
        return try await move(lease, .pushed, "pushed \(head.prefix(7)) to \(branch); pull request \(pr.url)", ItemChanges())
    }

    /// The CI gate (field report, incident 3): the required checks are those observed plus those the
    /// gate definition declares; one that has not registered yet is waited for, never taken as passed.
    func awaitChecks(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        guard let head = item.headSHA, let branch = item.branch else {
            return try await fail(
                item, lease, stage: "ci", outcome: .retryableFailure, signature: "missing_head", errorClass: .transient,
                summary: "no pushed head recorded; developing again", detail: "", backoff: false)
        }
        if let merged = try await mergedOutsideKeel(item, lease, stage: "waiting for CI") { return merged }
        let now = env.clock.now()
        let since = try await store.transitions(of: item.id).last { $0.to == .awaitingCI }?.at ?? now
        let stored = try await store.checkRun(itemID: item.id, headSHA: head, kind: "ci")
        let observed: [ObservedCheck]
        if let stored {
            observed = stored.checks
        } else {
            observed = try await env.forge.observeChecks(branch: branch, headSHA: head)
        }
        let declared = Array(Set(try await env.forge.requiredChecks() + config.ci.required))
        let gate = CIGate(declared: declared, deadline: TimeInterval(config.ci.waitSeconds), includesDeclared: env.gateIncludesDeclared)
        let decision = gate.decide(observed: observed, since: since, now: now)
        func record(passed: Bool) async throws {
            guard stored == nil else { return }
            let output = observed.map { "## \($0.name): \($0.state.rawValue)\n\($0.output)" }.joined(separator: "\n")
            try await store.recordCheckRun(
                itemID: item.id, headSHA: head, kind: "ci", passed: passed, output: output, checks: observed, startedAt: since, endedAt: env.clock.now())
        }
        switch decision {
        case .passed(let required):
            try await record(passed: true)
            return try await move(lease, .checksPassed, "CI passed on \(head.prefix(7)): \(required.joined(separator: ", "))", ItemChanges())
        case .failed(let names):
            try await record(passed: false)
            let detail = observed.filter { names.contains($0.name) && $0.state == .failure }.map { "## \($0.name)\n\($0.output)" }
                .joined(separator: "\n")
            return try await fail(
                item, lease, stage: "ci", outcome: .checksFailed, signature: "checks_failed:\(names.joined(separator: ","))",
                errorClass: .policy, summary: "CI failed on \(head.prefix(7)): \(names.joined(separator: ", ")); the evidence is the failing output's tail",
                detail: Self.tail(detail), backoff: false)
        case .waiting(let missing, let pending):
            let until = now.addingTimeInterval(TimeInterval(config.ci.pollSeconds))
            try await store.deferItem(lease, until: until, note: nil, now: now)
            var waitingFor: [String] = []
            if !missing.isEmpty { waitingFor.append("not registered yet: \(missing.joined(separator: ", "))") }
            if !pending.isEmpty { waitingFor.append("still running: \(pending.joined(separator: ", "))") }
            warn(item.id, "#\(item.id) waits for required checks (\(waitingFor.joined(separator: "; "))); looking again in \(config.ci.pollSeconds) s")
            throw StageDeferred()
        case .timedOut(let missing, let pending):
            let names = missing + pending
            return try await move(
                lease, .escalated,
                "required checks \(names.joined(separator: ", ")) did not report within \(config.ci.waitSeconds) s; a person must look at the CI setup",
                ItemChanges(history: [
                    NewHistoryEntry(stage: "ci", kind: "failure", signature: "checks_missing:\(names.joined(separator: ","))", summary: "required checks never reported")
                ]))
        }
    }

    func inspect(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        guard let head = item.headSHA, let branch = item.branch else {
            return try await fail(
                item, lease, stage: "inspect", outcome: .retryableFailure, signature: "missing_head", errorClass: .transient,
                summary: "no pushed head recorded; developing again", detail: "", backoff: false)
        }
        if let merged = try await mergedOutsideKeel(item, lease, stage: "in review") { return merged }
        guard !config.inspect.checks.isEmpty else {
            if let reviewer = config.inspect.reviewer {
                return try await review(item, lease, reviewer: reviewer, head: head, branch: branch)
            }
            return try await move(lease, .inspectionPassed, "no deterministic checks or reviewer configured; approved", ItemChanges())
        }
        let inspector = LocalForge(
            originURL: config.forge.local.origin, baseBranch: config.forge.local.base,
            ciCommands: config.inspect.checks.map { CICommand(name: $0.name, run: $0.run) },
            ciTimeout: .seconds(config.ci.timeoutSeconds), workRoot: config.workspaces + "/.inspect")
        let record = try await checks(kind: "inspect", item: item, head: head) {
            try await inspector.runChecks(branch: branch, headSHA: head)
        }
        if record.passed {
            if let reviewer = config.inspect.reviewer {
                return try await review(item, lease, reviewer: reviewer, head: head, branch: branch)
            }
            return try await move(lease, .inspectionPassed, "deterministic checks passed on \(head.prefix(7))", ItemChanges())
        }
        return try await fail(
            item, lease, stage: "inspect", outcome: .inspectionFailed, signature: "checks_failed:inspect", errorClass: .policy,
            summary: "deterministic checks failed on \(head.prefix(7)); the evidence is their output's tail", detail: Self.tail(record.output),
            backoff: false)
    }

    func merge(_ item: WorkItem, _ lease: Lease) async throws -> (WorkItem, Lease) {
        guard let pushedHead = item.headSHA, let branch = item.branch else {
            return try await fail(
                item, lease, stage: "merge", outcome: .retryableFailure, signature: "missing_head", errorClass: .transient,
                summary: "no pushed head recorded; developing again", detail: "", backoff: false)
        }
        let base = env.forge.baseBranch
        // Already in the base: Keel's own merge that landed before a crash could record it, or a
        // person's. Either way it is recorded, not merged (or marshalled) again.
        if let tip = await baseTip(containing: pushedHead, item: item) {
            let moved = try await move(lease, .mergeCompleted, "\(pushedHead.prefix(7)) is already in \(base) (\(tip.prefix(7))): recorded, not merged again", ItemChanges())
            return moved
        }
        let head: String
        let note: String?
        switch try await marshal(item, lease, head: pushedHead, branch: branch) {
        case .merge(let ready, let marshalNote):
            (head, note) = (ready, marshalNote)
        case .settled(let settled):
            return settled
        }
        let updated = ItemChanges(headSHA: head == pushedHead ? nil : .some(head))
        let result: MergeResult
        do {
            result = try await env.forge.merge(branch: branch, headSHA: head, title: "#\(item.id) \(item.title)")
        } catch let error as ForgeError where error.code == .baseKeptMoving {
            return try await lostRace(item, lease, branch: branch, message: error.message)
        }
        switch result {
        case .merged(let sha):
            let moved = try await move(
                lease, .mergeCompleted, "merged \(branch) into \(base) as \(sha.prefix(7))" + (note.map { " (\($0))" } ?? ""), updated)
            return moved
        case .alreadyMerged(let sha):
            let moved = try await move(
                lease, .mergeCompleted, "\(head.prefix(7)) is already in \(base) (\(sha.prefix(7))): recorded, not merged again", updated)
            return moved
        case .refused(let message):
            return try await mergeRefused(item, lease, message: message)
        case .conflict(let files, let message):
            return try await fail(
                item, lease, stage: "merge", outcome: .mergeConflict, signature: "merge_conflict", errorClass: .policy,
                summary: "\(branch) conflicts with \(base) in \(files.joined(separator: ", ")); developing again on the new base",
                detail: Self.tail(message), backoff: false)
        }
    }

    /// The base kept moving while the forge merged (issue 9, section 7): the marshal's to handle,
    /// not the agent's. The item stays in its merge stage and is marshalled again after a backoff
    /// (fetch, bring the branch up to date, check again, merge); its work is kept, no attempt
    /// begins and no agent runs. After ``BaseRace/marshalTries`` such tries a person decides.
    func lostRace(_ item: WorkItem, _ lease: Lease, branch: String, message: String) async throws -> (WorkItem, Lease) {
        let race = Self.baseRace
        let base = env.forge.baseBranch
        let note = NewHistoryEntry(
            stage: "merge", kind: "failure", signature: "merge_race", summary: "lost the race to push \(branch) into \(base)",
            detail: Self.tail(message))
        return try await retryInStage(
            item, lease, note: note, maxTries: race.marshalTries, backoff: race.backoff, retryAfter: nil,
            exhausted: { _ in "\(base) kept moving during \(race.marshalTries) marshal runs of \(branch); the work is kept on \(branch): \(message)" },
            waiting: { tries, delay in
                "#\(item.id) lost the race to merge into \(base); marshalling again (fetch, update, check, merge), try \(tries) of \(race.marshalTries) in \(String(format: "%.1f", delay)) s"
            })
    }

    /// How a lost race to push into the base is retried.
    static let baseRace = BaseRace()

    /// A merge the forge refused (field report, incident 4): a pending-check wording, singular or
    /// plural, or a moved base is retried with backoff, a bounded number of times; a policy refusal
    /// (reviews, signatures) goes to a person with the forge's message.
    func mergeRefused(_ item: WorkItem, _ lease: Lease, message: String) async throws -> (WorkItem, Lease) {
        let now = env.clock.now()
        let verdict = env.classifier.classify(message, now: now)
        let note = NewHistoryEntry(stage: "merge", kind: "failure", signature: "merge_refused:\(verdict.rule)", summary: message)
        guard verdict.class == .transient || verdict.class == .wait else {
            return try await move(lease, .escalated, "the forge refused the merge (\(verdict.rule)): \(message)", ItemChanges(history: [note]))
        }
        return try await retryInStage(
            item, lease, note: note, maxTries: Self.mergeRetries, backoff: Backoff(initialSeconds: 5, maxSeconds: 60, jitter: 0.5),
            retryAfter: verdict.retryAfterSeconds,
            exhausted: { _ in "the forge still refuses the merge after \(Self.mergeRetries) tries (\(verdict.rule)): \(message)" },
            waiting: { tries, delay in
                "#\(item.id) merge refused (\(verdict.rule): \(message.split(separator: "\n").last ?? "")); try \(tries) of \(Self.mergeRetries) in \(String(format: "%.0f", delay)) s"
            })
    }

    /// Tries the current stage again later without leaving it (the item waits in its state, with
    /// `note` in its history), for failures of the stage's peer rather than of the change: a
    /// merge the forge refused for a passing reason, a reviewer run that failed. After `maxTries`
    /// tries with `note`'s signature since a person's last decision the item goes to a person.
    func retryInStage(
        _ item: WorkItem, _ lease: Lease, note: NewHistoryEntry, maxTries: Int, backoff: Backoff, retryAfter: Int?,
        exhausted: (Int) -> String, waiting: (Int, Double) -> String
    ) async throws -> (WorkItem, Lease) {
        let history = try await store.history(of: item.id)
        let tries = HistoryEntry.sinceLastHumanDecision(history).filter { $0.signature == note.signature }.count + 1
        guard tries <= maxTries else {
            return try await move(lease, .escalated, exhausted(tries), ItemChanges(history: [note]))
        }
        let now = env.clock.now()
        let delay = retryAfter.map(Double.init) ?? backoff.delay(forFailure: tries, random: env.random())
        try await store.deferItem(lease, until: now.addingTimeInterval(delay), note: note, now: now)
        warn(item.id, waiting(tries, delay))
        throw StageDeferred()
    }

    /// How many times a merge refused for a passing reason (a check re-reporting, a moved base) is retried.
    static let mergeRetries = 6

    // MARK: Shared steps

    /// Pushes `head` (checked out in `dir`) to the item's `branch` on the origin, replacing only a
    /// tip Keel recorded for the item or one `head` descends from, and only while it is still
    /// there (issue 9, section 4). A tip that is someone else's commit is left alone and the item
    /// goes to a person, naming it; nil when `head` is on the branch.
    ///
    /// - Throws: the push's ``GitError`` for any other refusal (the pre-push guard's included).
    func pushBranch(_ item: WorkItem, _ lease: Lease, head: String, branch: String, in dir: String) async throws -> (WorkItem, Lease)? {
        let origin = config.forge.local.origin
        let tip = try await env.git.remoteBranchHead(url: origin, branch: branch)
        var descends = false
        if let tip, try await env.git.revParse(tip, in: dir) != nil { descends = try await env.git.isAncestor(tip, of: head, in: dir) }
        let recorded = try await store.recordedHeads(of: item.id)
        switch BranchPush.decide(tip: tip, head: head, recorded: recorded, tipIsAncestorOfHead: descends) {
        case .upToDate:
            return nil
        case .foreign(let tip):
            return try await foreignBranch(lease, tip: tip, branch: branch, dir: dir)
        case .push(let expecting):
            do {
                try await env.git.push(refspec: "HEAD:refs/heads/\(branch)", expecting: expecting, in: dir)
                return nil
            } catch let error as GitError where error.refusal == .stale {
                // Someone pushed between the look and the push: what is there now is theirs.
                let now = try await env.git.remoteBranchHead(url: origin, branch: branch) ?? "(deleted)"
                return try await foreignBranch(lease, tip: now, branch: branch, dir: dir)
            }
        }
    }

    /// A person decides about a commit on the item's branch that Keel did not push.
    func foreignBranch(_ lease: Lease, tip: String, branch: String, dir: String) async throws -> (WorkItem, Lease) {
        var who = ""
        // Fetched so that the commit can be named by its author and subject.
        _ = try? await env.git.run(["fetch", "--quiet", "origin", "refs/heads/\(branch)"], in: dir)
        if let line = try? await env.git.run(["log", "-1", "--format=%an: %s", tip, "--"], in: dir) {
            who = " (" + line.trimmingCharacters(in: .whitespacesAndNewlines) + ")"
        }
        let summary = "\(branch) on the origin holds \(tip.prefix(7))\(who), a commit Keel did not push; nothing was overwritten"
        return try await move(
            lease, .escalated,
            "\(summary). A person decides: keep it (bring it into the work) or remove it from \(branch), then `keel retry`",
            ItemChanges(history: [NewHistoryEntry(stage: "push", kind: "failure", signature: "branch_foreign", summary: summary, detail: tip)]))
    }

    /// Reuses the stored run for this head when there is one (a resumed stage does not run CI twice).
    func checks(kind: String, item: WorkItem, head: String, run: () async throws -> CheckRun) async throws -> CheckRunRecord {
        if let existing = try await store.checkRun(itemID: item.id, headSHA: head, kind: kind) { return existing }
        let started = env.clock.now()
        let result = try await run()
        try await store.recordCheckRun(
            itemID: item.id, headSHA: head, kind: kind, passed: result.passed, output: result.output,
            checks: result.checks.map { ObservedCheck(name: $0.name, state: $0.passed ? .success : .failure, output: $0.output) },
            startedAt: started, endedAt: env.clock.now())
        guard let stored = try await store.checkRun(itemID: item.id, headSHA: head, kind: kind) else {
            throw PipelineError(.workspace, "the \(kind) run for #\(item.id) was not stored")
        }
        return stored
    }

    /// Records a failure and decides what follows: back to the queue (after a backoff), or to a
    /// person when the failure is permanent or the circuit breaker opens on its signature.
    func fail(
        _ item: WorkItem, _ lease: Lease, stage: String, outcome: Outcome, signature: String, errorClass: ErrorClass,
        summary: String, detail: String, backoff: Bool, retryAfter: Int? = nil
    ) async throws -> (WorkItem, Lease) {
        let history = try await store.history(of: item.id)
        let sinceRetry = HistoryEntry.sinceLastHumanDecision(history)
        let earlier = sinceRetry.filter { $0.kind == "failure" }.compactMap(\.signature)
        let breaker = CircuitBreaker(threshold: config.scheduler.breakerThreshold)
        let count = breaker.count(of: signature, after: earlier)
        let entry = NewHistoryEntry(stage: stage, kind: "failure", signature: signature, summary: summary, detail: detail)
        if errorClass == .permanent {
            return try await move(
                lease, .escalated, "permanent failure in \(stage): \(summary)", ItemChanges(history: [entry]))
        }
        if breaker.opens(on: signature, after: earlier) {
            return try await move(
                lease, .escalated, "circuit breaker open: \(signature) failed \(count) times; last: \(summary)",
                ItemChanges(history: [entry]))
        }
        var delay = 0.0
        if errorClass == .wait, let retryAfter {
            // A known reset time: waiting less only fails again.
            delay = Double(retryAfter)
        } else if backoff {
            let b = config.scheduler.backoff
            delay = Backoff(initialSeconds: Double(b.initialSeconds), maxSeconds: Double(b.maxSeconds), jitter: b.jitter)
                .delay(forFailure: count, random: env.random())
        }
        let when = delay > 0 ? "retry in \(String(format: "%.1f", delay)) s" : "retry now"
        let notBefore: Date? = delay > 0 ? env.clock.now().addingTimeInterval(delay) : nil
        return try await move(
            lease, outcome, "\(summary) (\(signature): \(count) of \(breaker.threshold)); \(when)",
            ItemChanges(notBefore: .some(notBefore), history: [entry]))
    }

    func move(_ lease: Lease, _ outcome: Outcome, _ reason: String, _ changes: ItemChanges) async throws -> (WorkItem, Lease) {
        let now = env.clock.now()
        let from = lease.state
        let (item, newLease) = try await store.transition(
            lease, on: outcome, reason: reason, actor: name, now: now, changes: changes, keepLease: true)
        env.events.emit(.transition(item: item, from: from, to: item.state, reason: reason, actor: name, at: now))
        return (item, newLease)
    }

    /// The pushed head the next attempt builds on: after the reviewer asked for changes, checks
    /// failed, or a person retried; nil (start from the base) after anything else, such as a
    /// merge conflict or a reimplement.
    static func continuation(_ item: WorkItem, _ history: [HistoryEntry]) -> String? {
        guard let head = item.headSHA else { return nil }
        guard let last = history.last(where: { $0.kind == "failure" || $0.kind == HistoryEntry.retryKind || $0.kind == HistoryEntry.reimplementKind })
        else { return nil }
        if last.kind == HistoryEntry.retryKind { return head }
        let signature = last.signature ?? ""
        return ["review:", "checks_failed"].contains(where: signature.hasPrefix) ? head : nil
    }

    /// Clones the origin into the item's workspace on `branch`, from `from` (a pushed head of the
    /// item's branch) when given and still there, else fresh from the base; returns the start.
    func prepareClone(paths: WorkspacePaths, branch: String, from continuing: String? = nil) async throws -> String {
        paths.removeClone()
        try FileManager.default.createDirectory(atPath: paths.itemRoot, withIntermediateDirectories: true)
        try await env.git.clone(config.forge.local.origin, into: paths.clone, branch: config.forge.local.base)
        var start = "HEAD"
        if let continuing, try await env.git.revParse(continuing, in: paths.clone) != nil { start = continuing }
        try await env.git.checkoutNewBranch(branch, from: start, in: paths.clone)
        if let keel = env.keelExecutable {
            // Every push from this clone goes through the guard: no conflict markers, and nothing
            // merged in from other branches than the base (field report, incident 1).
            _ = try await GuardInstaller.install(in: paths.clone, keelExecutable: keel, git: env.git)
            _ = try await env.git.run(["config", "keel.guard.base", config.forge.local.base], in: paths.clone)
        }
        guard let head = try await env.git.revParse("HEAD", in: paths.clone) else {
            throw PipelineError(.workspace, "the fresh clone of \(config.forge.local.origin) in \(paths.clone) has no HEAD")
        }
        return head
    }

    /// Kills the process group of any run of this item that a crashed worker left behind, and closes
    /// its row, so two agents never write into the same clone.
    func killOrphans(of item: WorkItem) async throws {
        for run in try await store.unfinishedAgentRuns(of: item.id) {
            if let pid = run.pid, pid > 1 {
                _ = kill(-pid_t(pid), SIGKILL)
            }
            // Its spend is unknown but real: a cost row, unpriced.
            try await store.finishAgentRun(
                run.id, exitCode: nil, outcome: "abandoned", cost: CostEvent(source: .unpriced), now: env.clock.now())
            warn(item.id, "closed agent run \(run.id) of #\(item.id) left by a worker that stopped (pid \(run.pid.map(String.init) ?? "unknown"))")
        }
    }

    func warn(_ itemID: Int64?, _ message: String) {
        env.events.emit(.warning(itemID: itemID, message: message, at: env.clock.now()))
    }

    /// The last 8 KiB of a text: failure details stay readable and bounded.
    static func tail(_ text: String, limit: Int = 8 * 1024) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count > limit else { return trimmed }
        return "…" + String(decoding: trimmed.utf8.suffix(limit), as: UTF8.self)
    }
}

/// Thrown by a stage that let its item go to wait (not before a time it set): the worker moves on.
struct StageDeferred: Error {}

/// Runs `body` in a task that ignores the caller's cancellation: the write that records an
/// interruption must land even while the process shuts down.
func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task { try await body() }.value
}

/// Collects the agent's output lines as they arrive, into its format's parser.
final class StreamParserBox: Sendable {
    // A Mutex-protected value: lines arrive from the runner's reader tasks while the stage waits.
    private let state: Mutex<any AgentOutputParser>

    init(_ parser: any AgentOutputParser) { state = Mutex(parser) }

    /// Takes a line; stop the run when it settles how the run ends (``AgentOutputParser/settled``).
    func consume(_ line: String) -> LineVerdict {
        state.withLock { parser in
            parser.consume(line: line)
            return parser.settled.map(LineVerdict.stop) ?? .proceed
        }
    }
    func finish() -> AgentResult? { state.withLock { $0.finish() } }
}
