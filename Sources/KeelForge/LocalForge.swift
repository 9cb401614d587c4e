import Foundation
public import KeelAgents
public import KeelCore
public import KeelGit

/// A forge made of a bare git repository and CI commands run on this machine.
///
/// A branch in the origin is a pull request. Checks run in a fresh clone of the origin at the
/// exact head, one `/bin/sh -c` command after another; merges are made in a fresh clone and
/// pushed without force, so a base that moved meanwhile is merged again rather than
/// overwritten. Every clone lives in its own directory under `workRoot` and is removed
/// afterwards, so concurrent calls never share a working tree.
///
/// ```swift
/// let forge = LocalForge(
///     originURL: "/srv/git/app.git", baseBranch: "main",
///     ciCommands: [CICommand(name: "test", run: "swift test")],
///     ciTimeout: .seconds(1_800), workRoot: "/var/lib/keel/forge"
/// )
/// let pr = try await forge.openPullRequest(branch: "keel/42", title: "Fix the parser")
/// ```
public struct LocalForge: Forge {
    /// The bare repository: a path or URL git can clone and push to.
    public let originURL: String
    /// The branch pull requests merge into.
    public let baseBranch: String
    /// The required checks, run in this order.
    public let ciCommands: [CICommand]
    /// The wall-clock limit of each check command.
    public let ciTimeout: Duration
    /// The directory under which clones for checks and merges are made.
    public let workRoot: String

    private let git: Git
    private let runner: ProcessRunner

    /// How a merge whose push to the base lost a race is redone (``BaseRace/redoLimit`` times at most).
    public let race: BaseRace
    /// How much of one check's output is kept: the end, where failures are reported.
    static let checkOutputLimit = 1_000_000

    /// Creates a local forge; nothing is touched until the first call.
    public init(
        originURL: String,
        baseBranch: String,
        ciCommands: [CICommand],
        ciTimeout: Duration,
        workRoot: String,
        git: Git = Git(),
        runner: ProcessRunner = ProcessRunner(),
        race: BaseRace = BaseRace()
    ) {
        self.originURL = originURL
        self.baseBranch = baseBranch
        self.ciCommands = ciCommands
        self.ciTimeout = ciTimeout
        self.workRoot = workRoot
        self.git = git
        self.runner = runner
        self.race = race
    }

    /// The pull request of `branch`: its current head in the origin. `title` is not stored.
    ///
    /// - Throws: ``ForgeError`` with code `branchNotFound` when the origin has no such branch.
    public func openPullRequest(branch: String, title: String) async throws -> PullRequest {
        let head: String?
        do {
            head = try await git.remoteBranchHead(url: originURL, branch: branch)
        } catch let error as GitError {
            throw ForgeError(code: .gitFailed, message: "Could not look up \(branch) in \(originURL): \(error.message)", cause: error)
        }
        guard let head else {
            throw ForgeError(
                code: .branchNotFound,
                message: "\(originURL) has no branch \(branch). Push the branch, then open the pull request again."
            )
        }
        return PullRequest(branch: branch, headSHA: head, url: "\(originURL)#\(branch)")
    }

    /// Runs every CI command against `headSHA` in a fresh checkout and reports each, failing
    /// ones included; a command that exits non-zero or outlives ``ciTimeout`` fails.
    ///
    /// - Throws: ``ForgeError`` when the origin lacks `headSHA`, git fails, or `/bin/sh`
    ///   cannot be started; `CancellationError` when the task is cancelled.
    public func runChecks(branch: String, headSHA: String) async throws -> CheckRun {
        try await withScratchClone(purpose: "ci-\(headSHA.prefix(12))", operation: "run the checks of \(branch)") { dir in
            try await requireCommit(headSHA, of: branch, in: dir)
            try await git.checkout(headSHA, detached: true, in: dir)
            var results: [CheckResult] = []
            for command in ciCommands {
                results.append(try await runCheck(command, in: dir, headSHA: headSHA))
            }
            return CheckRun(
                headSHA: headSHA,
                passed: results.allSatisfy(\.passed),
                checks: results,
                output: results.map(report).joined(separator: "\n")
            )
        }
    }

    /// Merges `headSHA` into the base with a merge commit titled `Merge <branch>: <title>`.
    ///
    /// Returns ``MergeResult/alreadyMerged(sha:)`` when the base contains `headSHA` already,
    /// and ``MergeResult/conflict(files:message:)`` (the origin untouched) when it conflicts.
    /// When another push moves the base or holds its ref while this merge is pushed (a lost
    /// race, ``PushRefusal/isRace``), the merge is redone on the refetched base, up to
    /// ``BaseRace/redoLimit`` times.
    ///
    /// - Throws: ``ForgeError`` with code `baseKeptMoving` when every attempt lost that race,
    ///   `commitNotFound` when the origin lacks `headSHA`, `gitFailed` for other git failures.
    public func merge(branch: String, headSHA: String, title: String) async throws -> MergeResult {
        try await withScratchClone(purpose: "merge-\(Self.slug(branch))", branch: baseBranch, operation: "merge \(branch)") { dir in
            let base = "origin/\(baseBranch)"
            var redone = 0
            while true {
                if redone > 0 {
                    try await git.fetch(in: dir)
                    try await git.run(["reset", "--quiet", "--hard", base], in: dir)
                }
                try await requireCommit(headSHA, of: branch, in: dir)
                if try await git.isAncestor(headSHA, of: base, in: dir) {
                    return .alreadyMerged(sha: try await baseHead(base, in: dir))
                }
                switch try await git.merge(headSHA, message: "Merge \(branch): \(title)", in: dir) {
                case .conflicted(let files, let message):
                    return .conflict(files: files, message: message)
                case .alreadyUpToDate(let sha):
                    return .alreadyMerged(sha: sha)
                case .merged(let sha):
                    do {
                        // Never forced: a refused push means the base moved (or was being moved),
                        // and the merge must be made again on top of it.
                        try await git.push(refspec: "HEAD:refs/heads/\(baseBranch)", in: dir)
                        return .merged(sha: sha)
                    } catch let error as GitError {
                        switch race.action(for: error.refusal, redone: redone) {
                        case .redoOnNewBase:
                            redone += 1
                        case .marshalAgain:
                            throw ForgeError(
                                code: .baseKeptMoving,
                                message: "\(baseBranch) in \(originURL) moved during each of \(redone + 1) attempts to merge \(branch); "
                                    + "nothing was merged. Retry the merge when pushes to \(baseBranch) quieten down.",
                                cause: error
                            )
                        case .notARace:
                            throw error
                        }
                    }
                }
            }
        }
    }

    /// Asks the origin itself when it is a local path (a bare repository on this machine: a
    /// `merge-base` costs milliseconds), and a scratch clone otherwise.
    public func baseContains(headSHA: String) async throws -> String? {
        let local = originURL.hasPrefix("file://") ? String(originURL.dropFirst("file://".count)) : originURL
        var isDirectory: ObjCBool = false
        if !local.contains("://"), FileManager.default.fileExists(atPath: local, isDirectory: &isDirectory), isDirectory.boolValue {
            do {
                guard let tip = try await git.revParse("refs/heads/\(baseBranch)", in: local),
                    try await git.revParse(headSHA, in: local) != nil
                else { return nil }
                return try await git.isAncestor(headSHA, of: tip, in: local) ? tip : nil
            } catch let error as GitError {
                throw ForgeError(code: .gitFailed, message: "Could not look for \(headSHA) in \(baseBranch) of \(originURL): \(error.message)", cause: error)
            }
        }
        return try await withScratchClone(purpose: "contains-\(headSHA.prefix(12))", branch: baseBranch, operation: "look for \(headSHA) in \(baseBranch)") { dir in
            guard try await git.revParse(headSHA, in: dir) != nil else { return nil }
            let base = try await baseHead("origin/\(baseBranch)", in: dir)
            return try await git.isAncestor(headSHA, of: base, in: dir) ? base : nil
        }
    }

    // MARK: - Pieces

    /// Clones the origin into a new directory under ``workRoot``, runs `body` in it and removes
    /// it, turning git failures into ``ForgeError``s that name `operation`.
    private func withScratchClone<Result>(
        purpose: String,
        branch: String? = nil,
        operation: String,
        _ body: (String) async throws -> Result
    ) async throws -> Result {
        do {
            try FileManager.default.createDirectory(atPath: workRoot, withIntermediateDirectories: true)
        } catch {
            throw ForgeError(
                code: .workspaceUnavailable,
                message: "Could not create the forge's work directory \(workRoot): \(error.localizedDescription). "
                    + "Make it writable or choose another workRoot.",
                cause: error
            )
        }
        let dir = (workRoot as NSString).appendingPathComponent("\(purpose)-\(UUID().uuidString.lowercased())")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            try await git.clone(originURL, into: dir, branch: branch)
            return try await body(dir)
        } catch let error as GitError {
            throw ForgeError(code: .gitFailed, message: "Could not \(operation): \(error.message)", cause: error)
        }
    }

    private func requireCommit(_ headSHA: String, of branch: String, in dir: String) async throws {
        guard try await git.revParse(headSHA, in: dir) == nil else { return }
        throw ForgeError(
            code: .commitNotFound,
            message: "\(originURL) does not contain \(headSHA), the head given for \(branch) (was the branch rewritten?). "
                + "Open the pull request again to get its current head, check that, and merge it."
        )
    }

    private func baseHead(_ base: String, in dir: String) async throws -> String {
        guard let sha = try await git.revParse(base, in: dir) else {
            throw ForgeError(code: .branchNotFound, message: "\(originURL) has no branch \(baseBranch). Create it, or configure the right base branch.")
        }
        return sha
    }

    private func runCheck(_ command: CICommand, in dir: String, headSHA: String) async throws -> CheckResult {
        var spec = ProcessSpec(
            executable: "/bin/sh",
            // One stream, interleaved as written, is what a person reads in a CI log.
            arguments: ["-c", "exec 2>&1\n\(command.run)"],
            environment: ["CI": "true", "KEEL_HEAD_SHA": headSHA],
            workingDirectory: dir,
            wallClockLimit: ciTimeout
        )
        // A check that runs git must act on its checkout, not on a repository named by Keel's
        // own environment.
        spec.unsetEnvironment = Git.repositoryLocatingVariables.sorted()
        let captured: CapturedOutput
        do {
            captured = try await runner.capture(spec)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ForgeError(
                code: .checkFailedToStart,
                message: "Could not start check \(command.name) (`\(command.run)`) with /bin/sh: \(error). Check that /bin/sh exists.",
                cause: error
            )
        }
        let outcome = captured.outcome
        if outcome.cancelled { throw CancellationError() }
        var exitCode: Int32?
        if case .exited(let code) = outcome.termination { exitCode = code }
        let timedOut = outcome.timedOut != nil
        return CheckResult(
            name: command.name,
            command: command.run,
            passed: !timedOut && exitCode == 0,
            exitCode: exitCode,
            timedOut: timedOut,
            output: Self.tail(captured.stdout + captured.stderr)
        )
    }

    /// One check's section of ``CheckRun/output``.
    private func report(_ result: CheckResult) -> String {
        let verdict: String
        if result.timedOut {
            verdict = "timed out after \(ciTimeout) and was stopped"
        } else if let code = result.exitCode {
            verdict = code == 0 ? "passed" : "failed with exit status \(code)"
        } else {
            verdict = "failed: killed by a signal"
        }
        var section = "==> \(result.name): \(result.command)\n\(result.output)"
        if !result.output.isEmpty && !result.output.hasSuffix("\n") { section += "\n" }
        return section + "<== \(result.name) \(verdict)\n"
    }

    private static func tail(_ output: String) -> String {
        guard output.count > checkOutputLimit else { return output }
        return "[… \(output.count - checkOutputLimit) earlier characters omitted …]\n" + output.suffix(checkOutputLimit)
    }

    /// A branch name made safe for a directory name.
    private static func slug(_ branch: String) -> String {
        let safe = branch.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "-" }
        return String(String(safe).prefix(40))
    }
}
