import Foundation
public import KeelCore

/// Why the token broker could not hand out a token, refresh one, or read or write its
/// credentials file.
///
/// It follows Keel's failure model, so a caller retries it like any other error: an endpoint
/// that cannot be reached, a timeout and HTTP 5xx are ``ErrorClass/transient``; HTTP 429 (and a
/// 5xx) with `Retry-After` is ``ErrorClass/wait`` with ``retryAfter`` set; a refused refresh
/// token (`400 invalid_grant`), `401` and other 4xx are ``ErrorClass/permanent``: a person must
/// log in again.
///
/// No token ever appears in it: the message, the OAuth error text the endpoint sent and the
/// ``cause`` are scrubbed of every token the broker knows before the error is made.
///
/// ```swift
/// do {
///     let token = try await broker.borrow()
/// } catch let error as TokenError where error.errorClass == .permanent {
///     print(error)  // "the token endpoint refused the refresh token (400 invalid_grant: ...); log in again ..."
/// }
/// ```
public struct TokenError: Error, Sendable {
    /// The broad kind of the failure.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String
    /// Whether a retry can help: `transient`, `wait` (see ``retryAfter``) or `permanent`.
    public var errorClass: ErrorClass
    /// How long the token endpoint asked us to wait, when it said so.
    public var retryAfter: Duration?
    /// The OAuth `error` code the endpoint answered with (`invalid_grant`, `invalid_client`, ...), if any.
    public var oauthError: String?
    /// The underlying error, scrubbed of tokens.
    public var cause: (any Error)?

    /// Creates an error. `message` must not hold a token.
    public init(
        code: Code,
        message: String,
        errorClass: ErrorClass,
        retryAfter: Duration? = nil,
        oauthError: String? = nil,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.errorClass = errorClass
        self.retryAfter = retryAfter
        self.oauthError = oauthError
        self.cause = cause
    }

    /// True when borrowing again later may succeed (`transient` or `wait`).
    public var isRetryable: Bool {
        errorClass == .transient || errorClass == .wait
    }
}

extension TokenError {
    /// The broad kind of a ``TokenError``; new codes may be added, so `switch` with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The HTTP status, for ``rejected(status:)``.
        public let status: Int?

        /// The token endpoint answered and refused the refresh.
        public static func rejected(status: Int) -> Code { Code(name: "rejected", status: status) }
        /// No connection to the token endpoint could be made, or it broke before an answer.
        public static let unreachable = Code(name: "unreachable", status: nil)
        /// The token endpoint did not answer in time.
        public static let timedOut = Code(name: "timed_out", status: nil)
        /// The token endpoint answered 2xx with something that is not a usable token.
        public static let protocolViolation = Code(name: "protocol_violation", status: nil)
        /// The credentials file is missing, unreadable, malformed or could not be written.
        public static let credentialsFile = Code(name: "credentials_file", status: nil)
        /// The broker or its refresher is configured in a way that cannot work.
        public static let misconfigured = Code(name: "misconfigured", status: nil)
        /// A ``TokenRefresher`` outside Keel threw an error that is not a ``TokenError``.
        public static let refreshFailed = Code(name: "refresh_failed", status: nil)

        /// A short, stable name for logs, e.g. `rejected(400)`.
        public var description: String {
            status.map { "\(name)(\($0))" } ?? name
        }
    }
}

extension TokenError: CustomStringConvertible {
    /// The message, which already names the cause.
    public var description: String { message }
}

/// The text of an error whose description held a token; it stands in for the original as a
/// ``TokenError/cause``.
struct ScrubbedError: Error, Sendable, CustomStringConvertible {
    let description: String
}

/// Removes tokens from text that may end up in errors and logs.
struct TokenScrubber: Sendable {
    private let secrets: [String]

    init(_ secrets: [String]) {
        // Longest first, so a token that contains another is removed whole. Fragments shorter
        // than 8 characters are no token and would garble every message.
        self.secrets = Array(Set(secrets.filter { $0.count >= 8 })).sorted { $0.count > $1.count }
    }

    func callAsFunction(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "[REDACTED]") }
    }

    /// The error itself when none of its texts holds a token, else a ``ScrubbedError``.
    func scrub(_ error: any Error) -> any Error {
        let texts = [String(describing: error), String(reflecting: error)]
        guard secrets.contains(where: { secret in texts.contains { $0.contains(secret) } }) else { return error }
        return ScrubbedError(description: self(String(describing: error)))
    }

    /// `error` with its message, OAuth text and cause scrubbed.
    func scrub(_ error: TokenError) -> TokenError {
        var scrubbed = error
        scrubbed.message = self(error.message)
        scrubbed.oauthError = error.oauthError.map { self($0) }
        scrubbed.cause = error.cause.map { scrub($0) }
        return scrubbed
    }
}
