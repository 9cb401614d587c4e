/// What a refresh returned.
public struct RefreshedToken: Sendable {
    /// The new access token.
    public var accessToken: String
    /// A new refresh token when the endpoint rotated it; nil when the old one stays valid.
    public var refreshToken: String?
    /// How long the new access token lives from now (`expires_in`); nil when the endpoint did
    /// not say.
    public var lifetime: Duration?

    /// Creates a result.
    public init(accessToken: String, refreshToken: String? = nil, lifetime: Duration?) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.lifetime = lifetime
    }
}

extension RefreshedToken: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The lifetime only: tokens are never printed.
    public var description: String {
        "RefreshedToken(lifetime \(lifetime.map { "\($0)" } ?? "unknown"), rotated: \(refreshToken != nil), tokens redacted)"
    }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the tokens.
    public var customMirror: Mirror { Mirror(self, children: ["lifetime": lifetime as Any], displayStyle: .struct) }
}

/// Exchanges a refresh token for a new access token.
///
/// Only the ``TokenBroker`` calls it, at most once at a time. Throw a ``TokenError`` carrying the
/// failure's ``KeelCore/ErrorClass``; any other error is treated as transient.
///
/// ```swift
/// struct FixedRefresher: TokenRefresher {
///     func refresh(using refreshToken: String) async throws -> RefreshedToken {
///         RefreshedToken(accessToken: "new", lifetime: .seconds(3600))
///     }
/// }
/// ```
public protocol TokenRefresher: Sendable {
    /// Obtains a new access token with `refreshToken`.
    func refresh(using refreshToken: String) async throws -> RefreshedToken
}
