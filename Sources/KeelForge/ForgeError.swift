/// A forge operation that could not be carried out.
///
/// A conflicting merge or a failing check is not an error (see ``MergeResult`` and
/// ``CheckRun``); this is for what stops the operation itself: a branch that is not there, a
/// git command that failed, a base that kept moving.
///
/// ```swift
/// do {
///     _ = try await forge.openPullRequest(branch: "keel/42", title: "Fix the parser")
/// } catch let error as ForgeError where error.code == .branchNotFound {
///     // push the branch, then open the request again
/// }
/// ```
public struct ForgeError: Error, Sendable {
    /// The broad class of the failure.
    public var code: Code
    /// What went wrong (the cause included) and what to do about it.
    public var message: String
    /// The underlying error, e.g. a `GitError`.
    public var cause: (any Error)?

    /// Creates an error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }
}

extension ForgeError {
    /// The broad class of a ``ForgeError``; new codes may be added, so `switch` with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// The branch does not exist in the origin.
        public static let branchNotFound = Code(name: "branch_not_found")
        /// The head commit is not in the origin.
        public static let commitNotFound = Code(name: "commit_not_found")
        /// Every attempt to push the merge lost the race against other pushes to the base.
        public static let baseKeptMoving = Code(name: "base_kept_moving")
        /// A git command failed; the cause is the `GitError`.
        public static let gitFailed = Code(name: "git_failed")
        /// A check's command could not be started at all.
        public static let checkFailedToStart = Code(name: "check_failed_to_start")
        /// The directory for clones could not be created.
        public static let workspaceUnavailable = Code(name: "workspace_unavailable")

        /// A short, stable name for logs.
        public var description: String { name }
    }
}

extension ForgeError: CustomStringConvertible {
    /// The message, which already names the cause.
    public var description: String { message }
}
