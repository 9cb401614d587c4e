/// An error raised by the pipeline engine.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    /// The kind of error; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// The configured agent cannot be run as configured.
        public static let agentMisconfigured = Code(name: "agent_misconfigured")
        /// A workspace could not be prepared.
        public static let workspace = Code(name: "workspace")
        /// keel.yml names something the environment does not provide.
        public static let misconfigured = Code(name: "misconfigured")
        /// The store file is missing where a command needs it, or where the project shows it had one.
        public static let storeMissing = Code(name: "store_missing")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        underlying.map { "\(message) (\($0))" } ?? message
    }
}
