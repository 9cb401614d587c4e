/// An error raised by Keel's domain rules.
public struct CoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of error; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// An outcome that does not apply to the item's current state.
        public static let illegalTransition = Code(name: "illegal_transition")
        /// A value outside what the domain accepts (negative money, empty title, ...).
        public static let invalidValue = Code(name: "invalid_value")
        /// A dependency graph with a cycle or an unknown item.
        public static let invalidDependency = Code(name: "invalid_dependency")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
