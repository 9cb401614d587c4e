public import Foundation

/// A failure as a structured value, for callers that already hold more than text: an HTTP
/// status, an API's error type, a `Retry-After` header, a Claude Code `result`.
///
/// Structured signals are read before text patterns: a status and a type say more than wording.
///
/// ```swift
/// classifier.classify(signal: .http(status: 529, errorType: "overloaded_error", retryAfter: nil), now: now)
/// // transient (overloaded)
/// classifier.classify(signal: .http(status: 429, errorType: nil, retryAfter: "30"), now: now)
/// // wait (retry-after), 30 s
/// ```
public enum ErrorSignal: Sendable, Equatable {
    /// An HTTP failure: the status, the error type the body names (`overloaded_error`,
    /// `rate_limit_error`, `invalid_request_error`, ...) and the raw `Retry-After` header value
    /// (seconds or an HTTP-date), when present.
    case http(status: Int, errorType: String?, retryAfter: String?)
    /// An API error whose body names its type but whose status is unknown, such as Anthropic's
    /// `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}` or the
    /// `error` of Claude Code's synthetic assistant message (`oauth_org_not_allowed`,
    /// `rate_limit`, ...).
    case apiError(type: String, message: String?)
    /// The final `result` of a Claude Code run (`--output-format json` or `stream-json`).
    case claudeResult(ClaudeResult)
    /// A rate limit and, when known, when it resets (Claude Code's `rate_limit_event`
    /// `resetsAt`).
    case rateLimit(resetsAt: Date?)
    /// Error text; the same as ``ErrorClassifier/classify(_:now:)``.
    case text(String)
}

/// The fields of a Claude Code `result` message that say how a run failed.
///
/// Claude Code reports some API failures as `subtype: "success"` with `is_error: true`, and some
/// failures with `is_error: false`, so both are read: any non-`success` subtype is a failure.
public struct ClaudeResult: Sendable, Equatable {
    /// `success`, `error_max_turns`, `error_during_execution`, `error_max_budget_usd`,
    /// `error_max_structured_output_retries`, or a newer one.
    public var subtype: String?
    /// The result's `is_error`.
    public var isError: Bool
    /// `completed`, `max_turns`, `aborted_streaming`, `aborted_tools`, `api_error` (newer CLIs).
    public var terminalReason: String?
    /// The HTTP status of an API failure (`api_error_status`, CLI 2.1.110 and later).
    public var apiErrorStatus: Int?
    /// The `error` of the synthetic assistant message before the result
    /// (`authentication_failed`, `billing_error`, `rate_limit`, `invalid_request`,
    /// `server_error`, `unknown`, `oauth_org_not_allowed`).
    public var apiErrorType: String?
    /// The failure text: `errors` joined, else the `result` text.
    public var message: String?
    /// When a rejected rate limit resets, from the last `rate_limit_event` of the run.
    public var rateLimitResetsAt: Date?

    /// Creates a result signal; every field but `isError` is optional, as in the CLI's output.
    public init(
        subtype: String? = nil,
        isError: Bool,
        terminalReason: String? = nil,
        apiErrorStatus: Int? = nil,
        apiErrorType: String? = nil,
        message: String? = nil,
        rateLimitResetsAt: Date? = nil
    ) {
        self.subtype = subtype
        self.isError = isError
        self.terminalReason = terminalReason
        self.apiErrorStatus = apiErrorStatus
        self.apiErrorType = apiErrorType
        self.message = message
        self.rateLimitResetsAt = rateLimitResetsAt
    }

    /// Whether the run failed: `is_error`, or any subtype other than `success`.
    public var failed: Bool { isError || (subtype != nil && subtype != "success") }
}
