public import KeelCore
import Foundation

/// An alert that a channel could not deliver.
///
/// It says whether a retry can help (``errorClass``, ``retryAfter``), following Keel's failure
/// model: a refused connection, a timeout, HTTP 429 and 5xx, and SMTP 4xx replies are
/// transient (``ErrorClass/wait`` when the peer said how long to wait); other HTTP 4xx and
/// SMTP 5xx replies are permanent. The message names the channel, what was refused and what to
/// check. Secrets (a bot token, a webhook URL's path) never appear in it or in its cause.
///
/// ```swift
/// do {
///     try await channel.send(alert)
/// } catch let error as AlertError where error.code == .rejected(status: 429) {
///     print("rate limited; retry after \(error.retryAfter ?? .seconds(1))")
/// }
/// ```
public struct AlertError: Error, Sendable {
    /// The broad kind of the failure.
    public var code: Code
    /// What went wrong (the peer's own words included) and what to check.
    public var message: String
    /// The underlying error; its text has been scrubbed of the channel's secrets.
    public var cause: (any Error)?
    /// Whether a retry can help: `transient`, `wait` (see ``retryAfter``) or `permanent`.
    public var errorClass: ErrorClass
    /// How long the peer asked us to wait before trying again, when it said so.
    public var retryAfter: Duration?

    /// Creates an error.
    public init(
        code: Code,
        message: String,
        errorClass: ErrorClass,
        retryAfter: Duration? = nil,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.errorClass = errorClass
        self.retryAfter = retryAfter
        self.cause = cause
    }

    /// True when sending the same alert again may succeed (`transient` or `wait`).
    public var isRetryable: Bool {
        errorClass == .transient || errorClass == .wait
    }
}

extension AlertError {
    /// The broad kind of the failure; shared with the other outbound errors.
    public typealias Code = OutboundErrorCode
}

extension AlertError: CustomStringConvertible {
    /// The message, which already names the cause.
    public var description: String { message }
}

