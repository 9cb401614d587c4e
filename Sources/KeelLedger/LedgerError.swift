/// An error from the ledger: what went wrong, where, and what to do about it.
///
/// ```swift
/// do {
///     let bundle = try AuditBundle.parse(bytes)
/// } catch {
///     print(error.message)   // "the bundle is not valid JSON: ... at line 3, column 7"
/// }
/// ```
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    /// The kind of error; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The code's snake_case name.
        public var description: String { name }

        /// Bytes that are not valid JSON (syntax, UTF-8, duplicate keys, nesting too deep).
        public static let invalidJSON = Code(name: "invalid_json")
        /// A value that has no canonical form (NaN or an infinity).
        public static let notCanonicalizable = Code(name: "not_canonicalizable")
        /// A payload that breaks Keel's stamping rules (event_type, seq, integers only, ASCII keys).
        public static let invalidPayload = Code(name: "invalid_payload")
        /// An event that is not a well-formed AISS-1.0 event.
        public static let malformedEvent = Code(name: "malformed_event")
        /// An identity document that is not a well-formed AISS-1.0 identity.
        public static let malformedIdentity = Code(name: "malformed_identity")
        /// An audit export that is not a well-formed AISS-1.0-AUDIT document.
        public static let malformedBundle = Code(name: "malformed_bundle")
        /// A key that cannot be decoded or is not a 32-byte Ed25519 key.
        public static let invalidKey = Code(name: "invalid_key")
        /// A private key file that group or others may read or write.
        public static let insecureKeyFile = Code(name: "insecure_key_file")
        /// A file or directory operation that failed.
        public static let io = Code(name: "io")
        /// The cryptographic backend refused an operation.
        public static let crypto = Code(name: "crypto")
    }

    /// The kind of error.
    public var code: Code
    /// A sentence that says what went wrong and what to do.
    public var message: String
    /// The error that caused this one, if any.
    public var cause: (any Error)?

    /// Creates an error of kind `code` that says `message`.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message, followed by the cause when there is one.
    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }
}
