import Foundation
import KeelAgents
import KeelCore

/// git, driven through its command line.
///
/// Every command runs non-interactively (`GIT_TERMINAL_PROMPT=0`, so a missing credential
/// fails instead of waiting for a person who is not there), with Keel's identity and settings
/// passed as `-c` flags so that nothing depends on the machine's global git configuration, and
/// with the variables a surrounding git hook exports (`GIT_DIR`, `GIT_INDEX_FILE`, ...) removed,
/// so a command always acts on the directory it is given.
///
/// ```swift
/// let git = Git()
/// try await git.clone(originURL, into: "/tmp/work", branch: "main")
/// try await git.checkoutNewBranch("keel/42", from: "origin/main", in: "/tmp/work")
/// if let sha = try await git.commitAll(message: "Fix #42", in: "/tmp/work") {
///     try await git.push(refspec: "keel/42:refs/heads/keel/42", in: "/tmp/work")
/// }
/// ```
public struct Git: Sendable {
    /// The settings every command gets unless ``init(executable:environment:configuration:timeout:)``
    /// overrides them: Keel's commit identity, `main` as a new repository's branch, and
    /// permission to use `file://` transports (local origins, submodules in tests).
    public static let defaultConfiguration: [String: String] = [
        "user.name": "Keel",
        "user.email": "keel@localhost",
        "init.defaultBranch": "main",
        "protocol.file.allow": "always",
        "advice.detachedHead": "false",
    ]

    /// The variables git itself clears before running a hook's git commands
    /// (`git rev-parse --local-env-vars`): inherited, they would point every command at the
    /// caller's repository instead of the one it is given. Remove them from the environment of
    /// any process that runs in a clone and may call git (CI commands, agents).
    public static let repositoryLocatingVariables: Set<String> = [
        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
        "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
        "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX",
        "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE", "GIT_COMMON_DIR",
    ]

    /// The git executable: a name looked up in `PATH`, or a path.
    public let executable: String
    /// Variables added to (or replacing) the inherited environment of every command.
    public let environment: [String: String]
    /// The `-c` settings every command gets: ``defaultConfiguration`` merged with the overrides.
    public let configuration: [String: String]
    /// The wall-clock limit of one command; `nil` waits for ever.
    public let timeout: Duration?

    private let runner = ProcessRunner()

    /// Creates a git driver.
    ///
    /// - Parameters:
    ///   - executable: `git`, or the path of another git binary.
    ///   - environment: variables for every command, e.g. `GIT_SSH_COMMAND`; they win over the
    ///     inherited ones, but `GIT_TERMINAL_PROMPT` is always `0`.
    ///   - configuration: `-c` settings that override ``defaultConfiguration`` key by key, e.g.
    ///     `["user.name": "Keel Bot"]`.
    ///   - timeout: the wall-clock limit of one command, so a hung remote cannot stall a stage.
    public init(
        executable: String = "git",
        environment: [String: String] = [:],
        configuration: [String: String] = [:],
        timeout: Duration? = .seconds(600)
    ) {
        self.executable = executable
        self.environment = environment
        self.configuration = Self.defaultConfiguration.merging(configuration) { _, override in override }
        self.timeout = timeout
    }

    // MARK: - Commands

    /// Runs `git <args>` in `dir` and returns its standard output, untrimmed.
    ///
    /// ```swift
    /// let branch = try await git.run(["branch", "--show-current"], in: clone)
    /// ```
    /// - Throws: ``GitError`` when git cannot start, times out or exits non-zero.
    @discardableResult
    public func run(_ args: [String], in dir: String) async throws -> String {
        try await execute(args, in: dir).requireSuccess().stdout
    }

    /// Clones `url` into `dir` (which must not exist or be empty), checking out `branch`, or
    /// the remote's default branch when `nil`.
    public func clone(_ url: String, into dir: String, branch: String? = nil) async throws {
        var args = ["clone", "--quiet"]
        if let branch { args += ["--branch", branch] }
        args += ["--", url, dir]
        try await execute(args, in: nil).requireSuccess(
            advice: "Check that \(url) is a reachable repository\(branch.map { " with a branch \($0)" } ?? "")."
        )
    }

    /// Creates a bare repository at `path` (parent directories included) whose `HEAD` names
    /// `initialBranch`.
    public func initBare(at path: String, initialBranch: String = "main") async throws {
        try await execute(["init", "--quiet", "--bare", "--initial-branch=\(initialBranch)", path], in: nil).requireSuccess()
    }

    /// The full sha of the commit `rev` names, or `nil` when `dir` has no such commit
    /// (an unknown branch, a sha that was never fetched, `HEAD` of an empty repository).
    ///
    /// - Throws: ``GitError`` when `dir` is not a repository.
    public func revParse(_ rev: String, in dir: String) async throws -> String? {
        // `^{commit}` makes git look the object up: a bare 40-digit sha is otherwise echoed
        // back whether or not the repository has it.
        let output = try await execute(["rev-parse", "--verify", "--quiet", "\(rev)^{commit}"], in: dir)
        switch output.status {
        case 0: return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        case 1: return nil
        default: throw output.failure(advice: "Check that \(dir) is a git repository.")
        }
    }

    /// Whether commit `a` is reachable from `b` (a commit is its own ancestor).
    ///
    /// - Throws: ``GitError`` when either revision is unknown.
    public func isAncestor(_ a: String, of b: String, in dir: String) async throws -> Bool {
        let output = try await execute(["merge-base", "--is-ancestor", a, b], in: dir)
        switch output.status {
        case 0: return true
        case 1: return false
        default: throw output.failure(advice: "Fetch the commits first; both \(a) and \(b) must exist in \(dir).")
        }
    }

    /// Creates branch `name` at `from` and checks it out, without an upstream (Keel always
    /// pushes with an explicit refspec).
    ///
    /// - Throws: ``GitError`` when the branch exists already or `from` is unknown.
    public func checkoutNewBranch(_ name: String, from: String, in dir: String) async throws {
        try await execute(["checkout", "--quiet", "--no-track", "-b", name, from], in: dir).requireSuccess()
    }

    /// Checks out `rev`: a branch, or with `detached` any commit with a detached `HEAD`.
    public func checkout(_ rev: String, detached: Bool = false, in dir: String) async throws {
        var args = ["checkout", "--quiet"]
        if detached { args.append("--detach") }
        // The trailing `--` makes `rev` a revision even when a file has the same name.
        args += [rev, "--"]
        try await execute(args, in: dir).requireSuccess()
    }

    /// Whether the working tree or the index differs from `HEAD`, untracked files included
    /// (ignored files are not changes).
    public func hasChanges(in dir: String) async throws -> Bool {
        let status = try await run(["status", "--porcelain", "--untracked-files=all"], in: dir)
        return !status.isEmpty
    }

    /// Stages everything (`git add -A`) and commits it.
    ///
    /// - Returns: the new commit's sha, or `nil` when there was nothing to commit.
    public func commitAll(message: String, in dir: String) async throws -> String? {
        try await run(["add", "--all"], in: dir)
        guard try await hasChanges(in: dir) else { return nil }
        try await run(["commit", "--quiet", "-m", message], in: dir)
        return try await head(in: dir)
    }

    /// Pushes `refspec` (e.g. `HEAD:refs/heads/main`) to `remote`.
    ///
    /// With `expecting`, the push replaces the destination only while it is at that commit
    /// (`--force-with-lease=<ref>:<sha>`; the empty string: only while it does not exist), so a
    /// commit someone else pushed there is never overwritten.
    ///
    /// ```swift
    /// try await git.push(refspec: "HEAD:refs/heads/keel/42", expecting: recordedHead, in: clone)
    /// ```
    /// - Throws: ``GitError`` with code ``GitError/Code-swift.struct/pushRejected`` when the
    ///   remote branch has moved on (not a fast-forward and not `force`); other refusals, such
    ///   as a remote hook's, are ``GitError/Code-swift.struct/commandFailed``. Every refusal
    ///   carries ``GitError/refusal``: a lost race, a broken lease, or a declined push.
    public func push(remote: String = "origin", refspec: String, force: Bool = false, expecting: String? = nil, in dir: String) async throws {
        var args = ["push", "--porcelain"]
        if force { args.append("--force") }
        if let expecting {
            let destination = refspec.split(separator: ":", maxSplits: 1).last.map(String.init) ?? refspec
            args.append("--force-with-lease=\(destination):\(expecting)")
        }
        args += [remote, refspec]
        let output = try await execute(args, in: dir)
        guard output.status != 0 else { return }
        // Porcelain status lines: "!\t<src>:<dst>\t[rejected] (fetch first)" for a stale
        // push, "[remote rejected] (<hook's reason>)" for a refusal by the remote.
        let refused = output.stdout.split(separator: "\n").filter { $0.hasPrefix("!") }.map(String.init)
        var error = output.failure(
            advice: "Read the remote's reason above, fix what it names, then push again.",
            details: refused
        )
        error.refusal = PushRefusal(gitOutput: (refused + [output.stderr]).joined(separator: "\n"))
        if error.refusal == .moved {
            error.code = .pushRejected
            error.message = output.describeFailure(
                advice: "\(remote) has commits that \(dir) lacks: fetch, integrate them, and push again.",
                details: refused
            )
        }
        throw error
    }

    /// Fetches every branch of `remote`, pruning branches deleted there.
    public func fetch(remote: String = "origin", in dir: String) async throws {
        try await execute(["fetch", "--quiet", "--prune", remote], in: dir).requireSuccess(
            advice: "Check that \(remote) is reachable from \(dir)."
        )
    }

    /// The sha at the tip of `branch` in the repository at `url`, or `nil` when it has no such
    /// branch. Needs no local clone.
    public func remoteBranchHead(url: String, branch: String) async throws -> String? {
        let ref = "refs/heads/\(branch)"
        let listing = try await execute(["ls-remote", "--heads", url, ref], in: nil).requireSuccess(
            advice: "Check that \(url) is a reachable git repository."
        ).stdout
        // ls-remote matches patterns by their tail; keep only the exact ref.
        for line in listing.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            if fields.count == 2, fields[1] == ref { return String(fields[0]) }
        }
        return nil
    }

    /// The names of the branches of the repository at `url` under `prefix` (say `keel/item-`),
    /// sorted. Needs no local clone.
    public func remoteBranches(url: String, prefix: String) async throws -> [String] {
        let listing = try await execute(["ls-remote", "--heads", url, "refs/heads/\(prefix)*"], in: nil).requireSuccess(
            advice: "Check that \(url) is a reachable git repository."
        ).stdout
        return listing.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "\t", maxSplits: 1)
            guard fields.count == 2, fields[1].hasPrefix("refs/heads/\(prefix)") else { return nil }
            return String(fields[1].dropFirst("refs/heads/".count))
        }.sorted()
    }

    /// One entry per commit of `range` (newest first), each formatted with `format`
    /// (`git log --format`; may span lines).
    ///
    /// ```swift
    /// let subjects = try await git.log("origin/main..HEAD", format: "%s", in: clone)
    /// ```
    public func log(_ range: String, format: String, in dir: String) async throws -> [String] {
        let output = try await run(["log", "-z", "--format=\(format)", range, "--"], in: dir)
        guard !output.isEmpty else { return [] }
        // With -z every entry ends in NUL; an entry may itself be empty (say, "%b").
        var entries = output.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        if entries.last == "" { entries.removeLast() }
        return entries
    }

    /// The outcome of ``merge(_:message:in:)``.
    public enum MergeOutcome: Sendable, Equatable {
        /// A merge commit was created; `sha` is that commit.
        case merged(sha: String)
        /// `HEAD` already contains the revision; nothing was committed. `sha` is `HEAD`.
        case alreadyUpToDate(sha: String)
        /// The merge conflicted in `files` and was aborted, leaving `HEAD` and the working
        /// tree as they were. `message` is git's report.
        case conflicted(files: [String], message: String)
    }

    /// Merges `rev` into the checked-out branch with a merge commit (`--no-ff`), even when a
    /// fast-forward were possible, so the branch's history stays visible as the second parent.
    /// A conflict is aborted and reported, never left half-resolved.
    ///
    /// ```swift
    /// switch try await git.merge(headSHA, message: "Merge keel/42: Fix parser", in: clone) {
    /// case .merged(let sha): print("merged as \(sha)")
    /// case .alreadyUpToDate: break
    /// case .conflicted(let files, _): print("conflicts in \(files)")
    /// }
    /// ```
    public func merge(_ rev: String, message: String, in dir: String) async throws -> MergeOutcome {
        try await merge(rev, message: message, abortOnConflict: true, in: dir)
    }

    /// Like ``merge(_:message:in:)``, but a conflicted merge is left in progress: the conflicted
    /// files hold git's markers for a person or an agent to resolve (`git merge --abort` undoes it).
    public func mergeKeepingConflicts(_ rev: String, message: String, in dir: String) async throws -> MergeOutcome {
        try await merge(rev, message: message, abortOnConflict: false, in: dir)
    }

    private func merge(_ rev: String, message: String, abortOnConflict: Bool, in dir: String) async throws -> MergeOutcome {
        let before = try await head(in: dir)
        let output = try await execute(["merge", "--no-ff", "--no-edit", "-m", message, rev], in: dir)
        if output.status == 0 {
            let after = try await head(in: dir)
            return after == before ? .alreadyUpToDate(sha: after) : .merged(sha: after)
        }
        let files = try await conflictedFiles(in: dir)
        guard !files.isEmpty else {
            throw output.failure(advice: "Check that \(rev) exists in \(dir) and that the working tree is clean.")
        }
        if abortOnConflict { try await run(["merge", "--abort"], in: dir) }
        let report = [output.stdout, output.stderr]
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
            .joined(separator: "\n")
        return .conflicted(files: files, message: report)
    }

    /// The paths with unresolved conflicts in the index, as git stores them (not quoted).
    public func conflictedFiles(in dir: String) async throws -> [String] {
        let output = try await run(["diff", "--name-only", "-z", "--diff-filter=U"], in: dir)
        return output.split(separator: "\0").map(String.init)
    }

    private func head(in dir: String) async throws -> String {
        try await run(["rev-parse", "--verify", "HEAD"], in: dir).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - Running git

    /// The variables every command gets on top of the inherited ones (from which
    /// ``repositoryLocatingVariables`` are removed).
    private var processEnvironment: [String: String] {
        // English messages, so that what git prints reads the same in every report.
        var env = ["LC_ALL": "C"]
        env.merge(environment) { _, override in override }
        env["GIT_TERMINAL_PROMPT"] = "0"
        return env
    }

    /// Runs git and reports how it ended; only failure to run at all (or a timeout) throws.
    func execute(_ args: [String], in dir: String?) async throws -> GitOutput {
        let flags = configuration.sorted { $0.key < $1.key }.flatMap { ["-c", "\($0.key)=\($0.value)"] }
        var spec = ProcessSpec(
            executable: executable,
            arguments: flags + args,
            environment: processEnvironment,
            workingDirectory: dir,
            wallClockLimit: timeout
        )
        spec.unsetEnvironment = Self.repositoryLocatingVariables.sorted()
        let invocation = GitInvocation(executable: executable, arguments: args, fullArguments: flags + args, directory: dir)
        let captured: CapturedOutput
        do {
            captured = try await runner.capture(spec)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw GitError(
                code: .launchFailed,
                message: "Could not run `\(invocation.commandLine)`\(invocation.location): \(error). "
                    + "Install git, or pass its path as Git(executable:); check that the directory exists.",
                command: invocation.fullArguments,
                cause: error
            )
        }
        if captured.outcome.cancelled { throw CancellationError() }
        if captured.outcome.timedOut != nil {
            let limit = timeout.map { " \($0)" } ?? ""
            throw GitError(
                code: .timedOut,
                message: "`\(invocation.commandLine)`\(invocation.location) did not finish within its\(limit) limit and was stopped. "
                    + "Check that the remote is reachable, then retry.",
                command: invocation.fullArguments,
                standardError: captured.stderr
            )
        }
        return GitOutput(invocation: invocation, termination: captured.outcome.termination, stdout: captured.stdout, stderr: captured.stderr)
    }
}

/// One git command line, for messages.
struct GitInvocation: Sendable {
    var executable: String
    /// The arguments a reader cares about (no `-c` flags).
    var arguments: [String]
    var fullArguments: [String]
    var directory: String?

    var commandLine: String {
        ([executable] + arguments).map(Self.shellQuoted).joined(separator: " ")
    }

    var location: String {
        directory.map { " in \($0)" } ?? ""
    }

    static func shellQuoted(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./:=@%+^{},~".unicodeScalars.contains($0) }
        if plain && !word.isEmpty { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// How one git command ended.
struct GitOutput: Sendable {
    var invocation: GitInvocation
    var termination: Termination
    var stdout: String
    var stderr: String

    /// The exit status, or `nil` when a signal ended git.
    var status: Int32? {
        if case .exited(let code) = termination { return code }
        return nil
    }

    @discardableResult
    func requireSuccess(advice: String = GitOutput.defaultAdvice) throws -> GitOutput {
        guard status == 0 else { throw failure(advice: advice) }
        return self
    }

    static let defaultAdvice = "Read git's message, fix what it names, then retry."

    func failure(advice: String, details: [String] = []) -> GitError {
        GitError(
            code: .commandFailed,
            message: describeFailure(advice: advice, details: details),
            command: invocation.fullArguments,
            exitStatus: status,
            standardError: stderr
        )
    }

    func describeFailure(advice: String, details: [String] = []) -> String {
        let ending: String
        switch termination {
        case .exited(let code): ending = "exited with status \(code)"
        case .signaled(let signal): ending = "was killed by signal \(signal)"
        }
        // git's "hint:" lines are tutorials for people at a terminal; the advice replaces them.
        let said = stderr.split(separator: "\n").filter { !$0.hasPrefix("hint:") }.joined(separator: "\n")
        let complaint = (details + [String(said.trimmingCharacters(in: .whitespacesAndNewlines).suffix(2_000))])
            .filter { !$0.isEmpty }
            .joined(separator: "\n")
        let reason = complaint.isEmpty ? "" : ": \(complaint)"
        return "`\(invocation.commandLine)`\(invocation.location) \(ending)\(reason)\n\(advice)"
    }
}
