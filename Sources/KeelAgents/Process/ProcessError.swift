/// A process that Keel could not start or supervise.
///
/// A process that runs and fails is not an error: ``ProcessRunner/run(_:onStart:onLine:)``
/// returns its ``ProcessOutcome``. This error means the process never ran (or its output
/// could not be recorded), and ``message`` says what to check:
///
/// ```swift
/// do {
///     let outcome = try await ProcessRunner().run(ProcessSpec(executable: "claude", arguments: ["-p", "hi"]))
/// } catch let error as ProcessError where error.code == .launchFailed {
///     print(error.message)  // names the executable and the PATH that was searched
/// }
/// ```
public struct ProcessError: Error, Sendable, CustomStringConvertible {
    /// The broad class of the failure; new codes may be added, so `switch` with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) {
            self.name = name
        }

        /// The executable could not be started: not found, not executable, or the working
        /// directory is missing.
        public static let launchFailed = Code("launch_failed")
        /// The transcript file (or its directory) could not be created.
        public static let transcriptUnwritable = Code("transcript_unwritable")
        /// The ``ProcessSpec`` itself is unusable (an empty executable, a malformed
        /// environment variable name).
        public static let invalidSpec = Code("invalid_spec")
        /// The operating system refused the pipes or descriptors the process needs (usually
        /// too many open files).
        public static let resourcesUnavailable = Code("resources_unavailable")
        /// The process started but Keel lost track of it (its exit status could not be read).
        public static let supervisionFailed = Code("supervision_failed")

        /// A short, stable name for logs.
        public var description: String { name }
    }

    /// The broad class of the failure.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String
    /// The underlying error, when there is one.
    public var cause: (any Error & Sendable)?

    /// Creates an error; prefer the ones ``ProcessRunner`` throws.
    public init(code: Code, message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// `<message> (<cause>)`.
    public var description: String {
        if let cause {
            return "\(message) (\(cause))"
        }
        return message
    }
}
