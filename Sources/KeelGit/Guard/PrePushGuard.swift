import Foundation

/// Keel's pre-push guard: refuses a push that would bring conflict markers, or commits from a
/// branch it may not take commits from, to the remote.
///
/// - Layer 1, always on: conflict-marker lines (see ``ConflictMarker``) that the push
///   introduces. A line counts when the pushed commit adds it relative to what the remote
///   already has (the ref's current tip, or for a new ref the closest commit of any
///   `refs/remotes/<remote>/` branch) *and* `git blame` pins it on a commit the remote does not
///   have. Markers already on the remote (a document about merging, a test fixture) and markers
///   only in the working tree are not the push's. Binary files are skipped.
/// - Layer 2, on when git config `keel.guard.base` names a branch of the remote (with
///   `keel.guard.allow`, multi-valued, naming other permitted sources): a pushed branch may take
///   commits from the base, the allowed branches and its own previous tip only. A commit the
///   push brings that another branch of the remote has (through a merge or a fast-forward) is
///   refused; commits on no remote branch (new work) are fine. The hook does not fetch: it
///   judges by the `refs/remotes/<remote>/` it finds.
///
/// Fail-safe: a check the guard cannot carry out (unreadable input, a missing commit, an odd
/// configuration, git failing) becomes a warning and lets the push through, but what the guard
/// did find is refused all the same.
///
/// ```swift
/// let verdict = await PrePushGuard().check(
///     remoteName: "origin", remoteURL: url,
///     updates: [PushUpdate(localRef: "refs/heads/keel/42", localOID: head,
///                          remoteRef: "refs/heads/keel/42", remoteOID: String(repeating: "0", count: 40))],
///     in: clone)
/// if !verdict.allowsPush { print(verdict.report.joined(separator: "\n")) }
/// ```
public struct PrePushGuard: Sendable {
    /// The git driver for every query.
    public let git: Git

    /// Creates a guard that queries repositories with `git`.
    public init(git: Git = Git()) {
        self.git = git
    }

    /// Checks a push described by a pre-push hook's standard input (`hookInput`); lines that are
    /// not `<ref> <oid> <ref> <oid>` become warnings.
    ///
    /// - Parameters:
    ///   - remoteName: the hook's first argument: the remote's name (or its URL when the push
    ///     names no remote).
    ///   - remoteURL: the hook's second argument.
    ///   - repository: the pushing repository (its working tree, or its git directory).
    public func check(remoteName: String, remoteURL: String, hookInput: String, in repository: String) async -> GuardVerdict {
        let input = PrePushInput(parsing: hookInput)
        var verdict = await check(remoteName: remoteName, remoteURL: remoteURL, updates: input.updates, in: repository)
        var unreadable = GuardVerdict()
        for line in input.malformedLines {
            unreadable.warn(
                "cannot read the pre-push input line \"\(line.prefix(200))\" (expected <local ref> <local oid> <remote ref> <remote oid>)",
                consequence: "that ref was not checked"
            )
        }
        verdict.warnings = unreadable.warnings + verdict.warnings
        return verdict
    }

    /// Checks a push of `updates` from `repository` to the remote `remoteName`.
    ///
    /// The guard never contacts the remote (`remoteURL` mirrors the hook protocol and is not
    /// needed): it judges by `refs/remotes/<remoteName>/` and the remote tips in `updates`.
    /// When the push names a URL instead of a remote, no tracking branches match, so every
    /// commit the remote's pushed refs do not hold counts as the push's.
    ///
    /// Never throws: a check that fails is a warning in the verdict (see the type's
    /// documentation).
    public func check(remoteName: String, remoteURL: String, updates: [PushUpdate], in repository: String) async -> GuardVerdict {
        var verdict = GuardVerdict()
        let pushed = updates.filter { !$0.deletesRef }
        guard !pushed.isEmpty else { return verdict }
        let dir = await git.topLevel(of: repository)

        let tracking: [(branch: String, oid: String)]
        do {
            tracking = try await git.remoteTrackingBranches(of: remoteName, dir: dir)
        } catch {
            verdict.warn(
                "cannot list the branches of \(remoteName) known in \(repository): \(Self.describe(error))",
                consequence: "the push was not checked"
            )
            return verdict
        }

        // What the remote has now: its tracking branches and the current tips of the refs
        // being pushed (deleted ones included), as far as this repository has those commits.
        var remoteTips: [String: String] = [:]
        for update in updates where !update.createsRef {
            if let tip = try? await git.revParse(update.remoteOID, in: dir) { remoteTips[update.remoteRef] = tip }
        }
        let remoteHas = Self.unique(tracking.map(\.oid) + remoteTips.values.sorted())
        let view = RemoteView(name: remoteName, tracking: tracking, tips: remoteTips, has: remoteHas)

        let policy = await loadPolicy(view: view, dir: dir, into: &verdict)

        for update in pushed {
            let commit: String
            do {
                guard let resolved = try await git.revParse(update.localOID, in: dir) else {
                    verdict.warn(
                        "\(update.localOID) (pushed as \(update.remoteRef)) is not a commit in \(repository)",
                        consequence: "\(update.remoteRef) was not checked"
                    )
                    continue
                }
                commit = resolved
            } catch {
                verdict.warn(
                    "cannot read \(update.localOID) in \(repository): \(Self.describe(error))", consequence: "\(update.remoteRef) was not checked")
                continue
            }

            let scan = await introducedMarkers(commit: commit, update: update, view: view, dir: dir)
            if !scan.markers.isEmpty {
                verdict.refusals.append(GuardRefusal(remoteRef: update.remoteRef, reason: .conflictMarkers(scan.markers)))
            }
            for problem in scan.problems {
                verdict.warn(
                    "could not finish the conflict-marker check of \(update.remoteRef): \(problem)",
                    consequence: "what it did not reach was let through")
            }

            guard let policy, update.remoteBranch != nil else { continue }
            do {
                if let sources = try await foreignCommits(commit: commit, update: update, policy: policy, view: view, dir: dir) {
                    verdict.refusals.append(
                        GuardRefusal(remoteRef: update.remoteRef, reason: .foreignCommits(base: policy.base, remote: remoteName, sources: sources))
                    )
                }
            } catch {
                verdict.warn(
                    "could not check where the commits of \(update.remoteRef) come from: \(Self.describe(error))",
                    consequence: "its merge sources were not checked"
                )
            }
        }
        return verdict
    }

    // MARK: - Layer 1: conflict markers

    /// The conflict-marker lines `commit` introduces, and the files the guard could not judge.
    private func introducedMarkers(commit: String, update: PushUpdate, view: RemoteView, dir: String) async -> (
        markers: [ConflictMarker], problems: [String]
    ) {
        let candidates: [(path: String, lines: [Int])]
        let base: String?
        do {
            let shaped = try await git.markerShapedLines(in: commit, dir: dir)
            candidates = shaped.compactMap { path, lines in
                let markers = ConflictMarkerScan.markerLines(in: lines)
                return markers.isEmpty ? nil : (path, markers)
            }.sorted { $0.path < $1.path }
            guard !candidates.isEmpty else { return ([], []) }
            // "Added" is relative to what the remote has: the ref's own tip, or for a new ref
            // (or one whose tip this repository lacks) the closest commit the remote has.
            if let tip = view.tips[update.remoteRef] {
                base = tip
            } else {
                base = try await git.mergeBase(of: commit, withAnyOf: view.has, dir: dir)
            }
        } catch {
            return ([], [Self.describe(error)])
        }

        var markers: [ConflictMarker] = []
        var problems: [String] = []
        for (path, lines) in candidates {
            do {
                var added = lines
                if let base {
                    let ranges = try await git.addedLines(of: path, from: base, to: commit, dir: dir)
                    added = lines.filter { line in ranges.contains { $0.contains(line) } }
                }
                let introduced = try await git.linesIntroduced(added, of: path, in: commit, excluding: view.has, dir: dir)
                markers += introduced.map { ConflictMarker(path: path, line: $0) }
            } catch {
                problems.append("\(path): \(Self.describe(error))")
            }
        }
        return (markers, problems)
    }

    // MARK: - Layer 2: merge sources

    /// The configured merge-source policy, or `nil` when `keel.guard.base` is not set or cannot
    /// be used (a warning says why).
    private func loadPolicy(view: RemoteView, dir: String, into verdict: inout GuardVerdict) async -> MergeSourcePolicy? {
        let bases: [String]
        let allowed: [String]
        do {
            bases = try await git.configValues("keel.guard.base", dir: dir)
            allowed = try await git.configValues("keel.guard.allow", dir: dir)
        } catch {
            verdict.warn("cannot read keel.guard.base and keel.guard.allow: \(Self.describe(error))", consequence: "merge sources were not checked")
            return nil
        }
        // Like git, the last value of a single-valued key wins.
        guard let base = bases.last else { return nil }
        let names = Set(view.tracking.map(\.branch))
        let baseBranch = view.branchName(base.trimmingCharacters(in: .whitespaces), knownBranches: names)
        guard !baseBranch.isEmpty else {
            verdict.warn(
                "keel.guard.base is set but empty (it should name the base branch, e.g. main)", consequence: "merge sources were not checked")
            return nil
        }
        guard names.contains(baseBranch) else {
            verdict.warn(
                "keel.guard.base is \"\(base)\", but refs/remotes/\(view.name)/\(baseBranch) does not exist here "
                    + "(set it to a branch of \(view.name), or run git fetch \(view.name))",
                consequence: "merge sources were not checked"
            )
            return nil
        }
        let allowedBranches = allowed.map { view.branchName($0.trimmingCharacters(in: .whitespaces), knownBranches: names) }.filter { !$0.isEmpty }
        return MergeSourcePolicy(base: baseBranch, allowed: allowedBranches)
    }

    /// The commits `commit` would bring into `update`'s branch from branches of the remote it
    /// may not take commits from, grouped by branch; `nil` when there are none.
    private func foreignCommits(commit: String, update: PushUpdate, policy: MergeSourcePolicy, view: RemoteView, dir: String)
        async throws -> [ForeignCommits]?
    {
        guard let own = update.remoteBranch else { return nil }
        let permitted = Set([policy.base, own] + policy.allowed)
        let tips = Dictionary(view.tracking.map { ($0.branch, $0.oid) }, uniquingKeysWith: { first, _ in first })
        var permittedTips = ([policy.base, own] + policy.allowed).compactMap { tips[$0] }
        if let previous = view.tips[update.remoteRef] { permittedTips.append(previous) }
        permittedTips = Self.unique(permittedTips)

        // Every other branch of the remote, by the argument that names it to git log.
        var others: [String: String] = [:]
        for (branch, _) in view.tracking where !permitted.contains(branch) {
            others["refs/remotes/\(view.name)/\(branch)"] = branch
        }
        // A pushed ref's current tip is the remote's too, even when it was never fetched.
        for (ref, tip) in view.tips where ref.hasPrefix("refs/heads/") {
            let branch = String(ref.dropFirst("refs/heads/".count))
            if !permitted.contains(branch) && tips[branch] == nil { others[tip] = branch }
        }
        guard !others.isEmpty else { return nil }

        let brought = try await git.commits(reachableFrom: commit, excluding: permittedTips, dir: dir)
        guard !brought.isEmpty else { return nil }
        let origins = try await git.sourcesOfCommits(from: others.keys.sorted(), excluding: permittedTips, dir: dir)
        var groups: [String: [CommitSummary]] = [:]
        var order: [String] = []
        for sha in brought {
            guard let origin = origins[sha], let branch = others[origin.source] else { continue }
            if groups[branch] == nil { order.append(branch) }
            groups[branch, default: []].append(CommitSummary(sha: sha, subject: origin.subject))
        }
        guard !order.isEmpty else { return nil }
        return order.map { ForeignCommits(branch: $0, commits: groups[$0] ?? []) }
    }

    // MARK: - Helpers

    static func unique(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }

    /// One line for a warning: the error's first lines, without git's multi-line advice.
    static func describe(_ error: any Error) -> String {
        let text = (error as? GitError)?.message ?? "\(error)"
        let flat = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return flat.count > 400 ? String(flat.prefix(400)) + "…" : flat
    }
}

/// The merge sources a branch may take commits from, read from git config.
struct MergeSourcePolicy: Sendable {
    /// `keel.guard.base`, as a branch name of the remote.
    var base: String
    /// `keel.guard.allow` values, as branch names of the remote.
    var allowed: [String]
}

/// What the pushing repository knows of the remote.
struct RemoteView: Sendable {
    /// The remote's name, as the hook received it.
    var name: String
    /// `refs/remotes/<name>/*` (without `HEAD`).
    var tracking: [(branch: String, oid: String)]
    /// The current tips of the pushed refs, by remote ref, for those this repository has.
    var tips: [String: String]
    /// Every commit the remote is known to have; what it reaches is not the push's.
    var has: [String]

    /// `name` as a branch of the remote: `refs/heads/x`, `refs/remotes/<remote>/x` and
    /// `<remote>/x` (when no branch is called that) all mean `x`.
    func branchName(_ name: String, knownBranches: Set<String>) -> String {
        if name.hasPrefix("refs/heads/") { return String(name.dropFirst("refs/heads/".count)) }
        if name.hasPrefix("refs/remotes/\(self.name)/") { return String(name.dropFirst("refs/remotes/\(self.name)/".count)) }
        if name.hasPrefix("\(self.name)/") && !knownBranches.contains(name) {
            let stripped = String(name.dropFirst(self.name.count + 1))
            if knownBranches.contains(stripped) { return stripped }
        }
        return name
    }
}
