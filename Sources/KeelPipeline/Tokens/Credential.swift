public import Foundation

/// The canonical OAuth credential: the access token agents use, the refresh token that renews
/// it, and when the access token expires.
///
/// Only the ``TokenBroker`` holds one; workers and agents get a ``BorrowedToken``, which carries
/// no refresh token (a borrower that could refresh would rotate the shared identity under its
/// siblings). Printing it never shows a token.
public struct Credential: Sendable, Equatable {
    /// The bearer token agents send.
    public var accessToken: String
    /// The token that obtains a new access token; may be rotated by every refresh.
    public var refreshToken: String
    /// When ``accessToken`` stops working.
    public var expiresAt: Date

    /// Creates a credential.
    public init(accessToken: String, refreshToken: String, expiresAt: Date) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }
}

extension Credential: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The expiry only: tokens are never printed.
    public var description: String { "Credential(expires at \(expiresAt.tokenTimestamp), tokens redacted)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the tokens, so `dump` shows none either.
    public var customMirror: Mirror { Mirror(self, children: ["expiresAt": expiresAt], displayStyle: .struct) }
}

/// An access token lent to one worker or agent run, with no refresh token.
///
/// The broker never lends one that has expired, and refreshes first when one has less than its
/// minimum lifetime left. Printing it never shows the token.
///
/// ```swift
/// let token = try await broker.borrow()
/// request.headers.add(name: "Authorization", value: "Bearer \(token.accessToken)")
/// ```
public struct BorrowedToken: Sendable, Equatable {
    /// The bearer token.
    public var accessToken: String
    /// When it stops working.
    public var expiresAt: Date

    /// Creates a borrowed token.
    public init(accessToken: String, expiresAt: Date) {
        self.accessToken = accessToken
        self.expiresAt = expiresAt
    }
}

extension BorrowedToken: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The expiry only: the token is never printed.
    public var description: String { "BorrowedToken(expires at \(expiresAt.tokenTimestamp), token redacted)" }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the token, so `dump` shows none either.
    public var customMirror: Mirror { Mirror(self, children: ["expiresAt": expiresAt], displayStyle: .struct) }
}

extension Date {
    /// ISO 8601 in UTC, for messages.
    var tokenTimestamp: String {
        formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC") ?? .current))
    }
}
