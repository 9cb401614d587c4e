public import KeelCore

/// A git command that could not be run or did not succeed.
///
/// The ``message`` names the command line, where it ran, the exit status and git's own
/// complaint, and says what to do next. ``code`` is the broad class a caller branches on,
/// for instance to refetch after ``Code-swift.struct/pushRejected``:
///
/// ```swift
/// do {
///     try await git.push(refspec: "HEAD:refs/heads/main", in: clone)
/// } catch let error as GitError where error.code == .pushRejected {
///     try await git.fetch(in: clone)  // the remote moved: integrate and try again
/// }
/// ```
public struct GitError: Error, Sendable {
    /// The broad class of the failure.
    public var code: Code
    /// What went wrong (the cause included) and what to do about it.
    public var message: String
    /// The full argument vector given to git (configuration flags included).
    public var command: [String]
    /// The exit status, when git ran and exited.
    public var exitStatus: Int32?
    /// What git printed on standard error (the tail, for long output).
    public var standardError: String
    /// The underlying error, when git could not be started.
    public var cause: (any Error)?
    /// Why the remote refused a push (``Git/push(remote:refspec:force:expecting:in:)`` sets it).
    public var refusal: PushRefusal?

    /// Creates an error; prefer the codes and messages the ``Git`` methods produce.
    public init(
        code: Code,
        message: String,
        command: [String],
        exitStatus: Int32? = nil,
        standardError: String = "",
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.command = command
        self.exitStatus = exitStatus
        self.standardError = standardError
        self.cause = cause
    }
}

extension GitError {
    /// The broad class of a ``GitError``; new codes may be added, so `switch` with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String

        /// git ran and exited with a non-zero status (or was killed by a signal).
        public static let commandFailed = Code(name: "command_failed")
        /// The git executable could not be started.
        public static let launchFailed = Code(name: "launch_failed")
        /// git did not finish within the wall-clock limit and was stopped.
        public static let timedOut = Code(name: "timed_out")
        /// The remote refused a push because it is not a fast-forward: the remote branch has
        /// commits the local one lacks. Fetch, integrate and push again.
        public static let pushRejected = Code(name: "push_rejected")

        /// A short, stable name for logs.
        public var description: String { name }
    }
}

extension GitError: CustomStringConvertible {
    /// The message, which already names the cause.
    public var description: String { message }
}
