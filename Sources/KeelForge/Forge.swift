public import KeelCore
/// Where branches become pull requests, get checked and are merged.
///
/// `LocalForge` is a bare git repository plus CI commands run on this machine; a hosted forge
/// (GitHub) implements the same calls over its API. The pipeline calls them in order:
///
/// ```swift
/// let pr = try await forge.openPullRequest(branch: "keel/42", title: "Fix the parser")
/// let run = try await forge.runChecks(branch: pr.branch, headSHA: pr.headSHA)
/// if run.passed {
///     let result = try await forge.merge(branch: pr.branch, headSHA: run.headSHA, title: "Fix the parser")
/// }
/// ```
public protocol Forge: Sendable {
    /// Makes the branch a pull request against ``baseBranch`` (for `LocalForge`: checks that
    /// the branch exists in the origin). Idempotent: opening it again returns the same request
    /// with the branch's current head.
    func openPullRequest(branch: String, title: String) async throws -> PullRequest
    /// Runs the required checks against the pull request's head `headSHA`; each call runs them
    /// again, so whether to rerun is the caller's business.
    func runChecks(branch: String, headSHA: String) async throws -> CheckRun
    /// Merges exactly `headSHA` (the head that was checked) of `branch` into the base.
    /// Idempotent: when `headSHA` is already an ancestor of the base, returns
    /// ``MergeResult/alreadyMerged(sha:)`` without a new commit.
    func merge(branch: String, headSHA: String, title: String) async throws -> MergeResult
    /// The checks as the forge reports them now for `headSHA`: registered or not, pending, passed
    /// or failed. (The local forge runs its commands to report them.)
    func observeChecks(branch: String, headSHA: String) async throws -> [ObservedCheck]
    /// The checks the forge's gate definition requires on the base branch (GitHub: branch
    /// protection and rulesets; the local forge: its commands).
    func requiredChecks() async throws -> [String]
    /// The base's tip when it already contains `headSHA`: the change was merged, by Keel or by a
    /// person outside it (a merge by hand, a pull request merged in the forge's web page); `nil`
    /// while it does not, or when the forge no longer has the commit.
    func baseContains(headSHA: String) async throws -> String?
    /// The branch pull requests merge into, e.g. `main`.
    var baseBranch: String { get }
    /// Where the repository lives: a path or URL git can clone.
    var originURL: String { get }
}

/// An open pull request: a branch proposed for merging into the base.
public struct PullRequest: Sendable, Equatable {
    /// The branch that holds the change.
    public var branch: String
    /// The branch's tip when the request was opened or last looked at.
    public var headSHA: String
    /// Where a person can look at it.
    public var url: String

    /// Creates a pull request value.
    public init(branch: String, headSHA: String, url: String) {
        self.branch = branch
        self.headSHA = headSHA
        self.url = url
    }
}

/// The outcome of one run of the required checks against one head.
public struct CheckRun: Sendable {
    /// The commit the checks ran against.
    public var headSHA: String
    /// Whether every check passed (no checks configured counts as passed).
    public var passed: Bool
    /// One result per check, in the configured order.
    public var checks: [CheckResult]
    /// Every check's output, each section headed by the check's name and command: what a
    /// person (or the agent fixing a failure) reads.
    public var output: String

    /// Creates a check run value.
    public init(headSHA: String, passed: Bool, checks: [CheckResult], output: String) {
        self.headSHA = headSHA
        self.passed = passed
        self.checks = checks
        self.output = output
    }

    /// The checks that failed or timed out.
    public var failures: [CheckResult] { checks.filter { !$0.passed } }
}

/// The outcome of one check.
public struct CheckResult: Sendable {
    /// The check's name, e.g. `test`.
    public var name: String
    /// The command it ran.
    public var command: String
    /// Whether it exited 0 within its time limit.
    public var passed: Bool
    /// The exit status, `nil` when a signal ended it (a timeout, for instance).
    public var exitCode: Int32?
    /// Whether it was stopped for running past its time limit.
    public var timedOut: Bool
    /// Its standard output and standard error, interleaved as written.
    public var output: String

    /// Creates a check result value.
    public init(name: String, command: String, passed: Bool, exitCode: Int32?, timedOut: Bool, output: String) {
        self.name = name
        self.command = command
        self.passed = passed
        self.exitCode = exitCode
        self.timedOut = timedOut
        self.output = output
    }
}

/// How a merge ended.
public enum MergeResult: Sendable, Equatable {
    /// The head was merged; `sha` is the new merge commit on the base.
    case merged(sha: String)
    /// The base already contained the head; nothing was committed. `sha` is the base's tip.
    case alreadyMerged(sha: String)
    /// The head conflicts with the base in `files`; the base is untouched. `message` is the
    /// forge's (or git's) report, for the agent that resolves it.
    case conflict(files: [String], message: String)
    /// The forge refused the merge with `message` (e.g. GitHub's `Required status check "test" is
    /// expected.` or `At least 1 approving review is required`): classify it to retry or escalate.
    case refused(message: String)
}

/// A required check of `LocalForge`: a shell command run in a checkout of the head.
public struct CICommand: Sendable {
    /// The check's name in reports, e.g. `test`.
    public var name: String
    /// The command line, run with `/bin/sh -c`, e.g. `swift test`.
    public var run: String

    /// Creates a check definition.
    public init(name: String, run: String) {
        self.name = name
        self.run = run
    }
}
