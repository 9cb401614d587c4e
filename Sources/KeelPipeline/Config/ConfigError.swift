/// A `keel.yml` that Keel cannot use, said in one line a person can act on.
///
/// The ``description`` names the file, the line, the full dotted key and what was expected:
///
/// ```swift
/// do {
///     config = try KeelConfig.load(path: "keel.yml")
/// } catch {
///     print(error)  // keel.yml:14: scheduler.workers: expected an integer from 1 to 64, found "two"
/// }
/// ```
public struct ConfigError: Error, CustomStringConvertible {
    /// What kind of problem this is; stable enough to branch on.
    public var code: Code

    /// The configuration file as it was named to Keel (not resolved), e.g. `keel.yml`.
    public var file: String

    /// The 1-based line the problem is on, when it has one.
    public var line: Int?

    /// The full dotted key the problem is about, e.g. `scheduler.backoff.jitter` or `ci.commands[1].run`.
    public var key: String?

    /// What is wrong and, where it helps, what to write instead.
    public var message: String

    /// The error underneath (a Yams parse error, a file system error), when there is one.
    public var cause: (any Error)?

    /// Creates an error; `description` is derived from the fields.
    public init(code: Code, file: String, line: Int? = nil, key: String? = nil, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.file = file
        self.line = line
        self.key = key
        self.message = message
        self.cause = cause
    }

    /// `file:line: key: message`, leaving out the parts this error does not have.
    public var description: String {
        var text = file
        if let line {
            text += ":\(line)"
        }
        text += ": "
        if let key {
            text += "\(key): "
        }
        return text + message
    }
}

extension ConfigError {
    /// The kind of a ``ConfigError``. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case fileNotFound = "file not found"
            case unreadable = "unreadable"
            case syntax = "syntax"
            case unknownKey = "unknown key"
            case missingKey = "missing key"
            case invalidValue = "invalid value"
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) {
            self.wrapped = wrapped
        }

        /// There is no file at the path given.
        public static let fileNotFound = Code(.fileNotFound)
        /// The file exists but could not be read as UTF-8 text (permissions, a directory, bad encoding).
        public static let unreadable = Code(.unreadable)
        /// The text is not well-formed YAML (tab indentation, an unclosed bracket, a duplicated key).
        public static let syntax = Code(.syntax)
        /// A key Keel does not know, usually a typo.
        public static let unknownKey = Code(.unknownKey)
        /// A required key is absent.
        public static let missingKey = Code(.missingKey)
        /// A key has a value of the wrong type or outside its allowed range.
        public static let invalidValue = Code(.invalidValue)

        /// A short name for logs, e.g. `unknown key`.
        public var description: String { wrapped.rawValue }
    }
}
