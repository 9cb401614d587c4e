/// An error from the store: what went wrong, where, and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of error; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// No item with that id.
        public static let itemNotFound = Code(name: "item_not_found")
        /// The lease was taken over by another worker (or cleared by a person): the write is refused.
        public static let staleLease = Code(name: "stale_lease")
        /// The transition is not an edge of the state machine.
        public static let illegalTransition = Code(name: "illegal_transition")
        /// A row that does not decode (corrupt or hand-edited).
        public static let corruptRow = Code(name: "corrupt_row")
        /// The database could not be opened or migrated.
        public static let unavailable = Code(name: "unavailable")
        /// A dependency on an unknown item.
        public static let invalidDependency = Code(name: "invalid_dependency")
        /// No ledger break with that id.
        public static let breakNotFound = Code(name: "break_not_found")
        /// A decision that cannot be taken (already decided, no name given).
        public static let invalidDecision = Code(name: "invalid_decision")
        /// A restore into a ledger that already holds events.
        public static let ledgerNotEmpty = Code(name: "ledger_not_empty")
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
        if let underlying { return "\(message) (\(underlying))" }
        return message
    }
}
