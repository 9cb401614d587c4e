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
    /// The broad kind of an ``AlertError``; new codes may be added, so `switch` with a default.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The status the peer answered with, for ``rejected(status:)``.
        public let status: Int?

        /// The peer answered and refused: an HTTP status, a Telegram `error_code`, or an SMTP
        /// reply code.
        public static func rejected(status: Int) -> Code { Code(name: "rejected", status: status) }
        /// No connection could be made, or it broke before the peer answered.
        public static let unreachable = Code(name: "unreachable", status: nil)
        /// The peer did not answer in time.
        public static let timedOut = Code(name: "timed_out", status: nil)
        /// The peer answered in a way its protocol does not allow.
        public static let protocolViolation = Code(name: "protocol_violation", status: nil)
        /// The channel's own settings cannot work (a malformed URL, no recipients, AUTH not
        /// offered by the server).
        public static let misconfigured = Code(name: "misconfigured", status: nil)
        /// A channel outside Keel threw an error that is not an ``AlertError``.
        public static let failed = Code(name: "failed", status: nil)

        /// A short, stable name for logs, e.g. `rejected(429)`.
        public var description: String {
            status.map { "\(name)(\($0))" } ?? name
        }
    }
}

extension AlertError: CustomStringConvertible {
    /// The message, which already names the cause.
    public var description: String { message }
}

/// The text of an error whose description had to be scrubbed of a secret; it stands in for
/// the original as an ``AlertError/cause``.
struct RedactedError: Error, Sendable, CustomStringConvertible {
    let description: String
}

/// Removes secrets from text that may end up in errors and logs.
struct Redactor: Sendable {
    private let secrets: [String]

    init(secrets: [String]) {
        // Longest first, so a secret that contains another is removed whole. A fragment shorter
        // than 6 characters (a URL path like `/`) is no secret and would garble every message.
        self.secrets = secrets.filter { $0.count >= 6 }.sorted { $0.count > $1.count }
    }

    func callAsFunction(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "<redacted>") }
    }

    /// The error itself when its texts hold no secret, else a ``RedactedError`` with its
    /// scrubbed description.
    func scrub(_ error: any Error) -> any Error {
        let texts = [String(describing: error), String(reflecting: error)]
        guard secrets.contains(where: { secret in texts.contains { $0.contains(secret) } }) else {
            return error
        }
        return RedactedError(description: self(String(describing: error)))
    }
}
