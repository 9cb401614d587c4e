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
    /// The broad kind of the failure; shared with the other outbound errors.
    public typealias Code = OutboundErrorCode
}

extension TokenError: CustomStringConvertible {
    /// The message, which already names the cause.
    public var description: String { message }
}

extension SecretRedactor {
    /// `error` with its message, OAuth text and cause scrubbed.
    func scrub(_ error: TokenError) -> TokenError {
        var scrubbed = error
        scrubbed.message = self(error.message)
        scrubbed.oauthError = error.oauthError.map { self($0) }
        scrubbed.cause = error.cause.map { scrub($0) }
        return scrubbed
    }
}
