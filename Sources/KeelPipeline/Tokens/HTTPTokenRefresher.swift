public import AsyncHTTPClient
import Foundation
public import KeelCore
import NIOCore
import NIOHTTP1

/// A ``TokenRefresher`` that performs the OAuth 2.0 refresh-token grant (RFC 6749 §6) over HTTP.
///
/// It POSTs `grant_type=refresh_token&refresh_token=…&client_id=…` (and `scope` when set) to the
/// token URL, form-encoded as the RFC requires or, for endpoints that want it, as a JSON object
/// (``Configuration/BodyEncoding``). A 2xx answer must be JSON with `access_token`; a
/// `refresh_token` in it means the endpoint rotated the refresh token, and `expires_in` is the new
/// access token's lifetime in seconds.
///
/// Failures are classified like any other error in Keel: a refused connection, a timeout, 408,
/// 425 and 5xx are transient; 429 (and a 5xx) with `Retry-After` is `wait`; `400 invalid_grant`
/// (the refresh token was revoked, expired or already rotated away), 401, 403 and other 4xx are
/// permanent: a person must log in again. No token appears in an error, even when the endpoint
/// echoes one back.
///
/// For a Claude subscription credential, the endpoint Claude Code itself uses has been reported
/// as `https://platform.claude.com/v1/oauth/token` (formerly `console.anthropic.com`), with the
/// Claude Code OAuth client's id; Keel ships no client id of its own, so set both from
/// configuration.
///
/// ```swift
/// let refresher = HTTPTokenRefresher(
///     configuration: .init(tokenURL: "https://auth.example.com/oauth/token", clientID: "keel"),
///     httpClient: .shared
/// )
/// ```
public struct HTTPTokenRefresher: TokenRefresher {
    /// Where and how to refresh.
    public struct Configuration: Sendable {
        /// How the grant's parameters are sent.
        public enum BodyEncoding: String, Sendable, CaseIterable {
            /// `application/x-www-form-urlencoded`, as RFC 6749 §6 specifies.
            case form
            /// A JSON object with the same keys, which some endpoints (Anthropic's among them, by
            /// reports) expect instead.
            case json
        }

        /// The token endpoint, e.g. `https://auth.example.com/oauth/token`.
        public var tokenURL: String
        /// The OAuth client id sent as `client_id`; omitted when empty.
        public var clientID: String
        /// The `scope` parameter; omitted when nil.
        public var scope: String?
        /// How the parameters are encoded.
        public var bodyEncoding: BodyEncoding
        /// The `User-Agent` header (some endpoints sit behind bot filters that key on it).
        public var userAgent: String
        /// The longest a refresh may take, connection included.
        public var timeout: Duration

        /// Creates a configuration.
        public init(
            tokenURL: String,
            clientID: String,
            scope: String? = nil,
            bodyEncoding: BodyEncoding = .form,
            userAgent: String = "Keel",
            timeout: Duration = .seconds(30)
        ) {
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.scope = scope
            self.bodyEncoding = bodyEncoding
            self.userAgent = userAgent
            self.timeout = timeout
        }
    }

    /// The configuration in use.
    public let configuration: Configuration
    private let client: HTTPClient
    private let clock: any WallClock

    private static let answerLimit = 64 * 1024

    /// Creates a refresher on the owner's `HTTPClient`.
    ///
    /// - Parameter clock: Reads an HTTP-date `Retry-After` against it.
    public init(configuration: Configuration, httpClient: HTTPClient = .shared, clock: any WallClock = SystemWallClock()) {
        self.configuration = configuration
        self.client = httpClient
        self.clock = clock
    }

    /// Performs the refresh-token grant.
    public func refresh(using refreshToken: String) async throws -> RefreshedToken {
        let scrubber = SecretRedactor(secrets: [refreshToken])
        do {
            return try await exchange(refreshToken, scrubber: scrubber)
        } catch let error as TokenError {
            throw scrubber.scrub(error)
        }
    }

    // MARK: - The exchange

    private var endpoint: String {
        guard let url = URL(string: configuration.tokenURL), let scheme = url.scheme, let host = url.host else {
            return "the configured token URL"
        }
        return "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")\(url.path)"
    }

    private func exchange(_ refreshToken: String, scrubber: SecretRedactor) async throws -> RefreshedToken {
        guard OutboundHTTP.isHTTPURL(configuration.tokenURL) else {
            throw TokenError(
                code: .misconfigured,
                message: "the token URL \(endpoint) is not an http(s) URL with a host; check the token broker's token URL",
                errorClass: .permanent
            )
        }
        var request = HTTPClientRequest(url: configuration.tokenURL)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        request.headers.add(name: "Cache-Control", value: "no-store")
        var parameters: [(String, String)] = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
        if !configuration.clientID.isEmpty { parameters.append(("client_id", configuration.clientID)) }
        if let scope = configuration.scope { parameters.append(("scope", scope)) }
        switch configuration.bodyEncoding {
        case .form:
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: FormEncoding.encode(parameters)))
        case .json:
            request.headers.add(name: "Content-Type", value: "application/json")
            let object = Dictionary(parameters, uniquingKeysWith: { $1 })
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            request.body = .bytes(ByteBuffer(bytes: data))
        }

        let status: Int
        let body: String
        let retryAfterHeader: String?
        do {
            let response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
            status = Int(response.status.code)
            retryAfterHeader = response.headers.first(name: "Retry-After")
            body = try await OutboundHTTP.text(of: response.body, limit: Self.answerLimit)
        } catch let error as CancellationError {
            throw error
        } catch {
            throw transportError(error, scrubber: scrubber)
        }

        guard (200..<300).contains(status) else {
            throw rejection(status: status, body: body, retryAfterHeader: retryAfterHeader, scrubber: scrubber)
        }
        return try parseSuccess(body)
    }

    private func parseSuccess(_ body: String) throws(TokenError) -> RefreshedToken {
        func violation(_ problem: String) -> TokenError {
            // Biased to transient: a proxy's error page with a 200 is more likely than a broken
            // authorization server, and a needless retry costs seconds.
            TokenError(
                code: .protocolViolation,
                message: "the token endpoint \(endpoint) answered 2xx but \(problem); check the token URL (a proxy or login page may be answering)",
                errorClass: .transient
            )
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw violation("not with a JSON object")
        }
        guard let accessToken = object["access_token"] as? String, !accessToken.isEmpty else {
            throw violation("without an \"access_token\"")
        }
        let rotated = (object["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        var lifetime: Duration?
        switch object["expires_in"] {
        case let seconds as Int: lifetime = .seconds(seconds)
        case let seconds as Double: lifetime = .milliseconds(Int64((seconds * 1000).rounded(.down)))
        case let seconds as NSNumber: lifetime = .milliseconds(Int64((seconds.doubleValue * 1000).rounded(.down)))
        case let text as String: lifetime = Int(text).map { .seconds($0) }
        default: lifetime = nil
        }
        return RefreshedToken(accessToken: accessToken, refreshToken: rotated, lifetime: lifetime)
    }

    // MARK: - Classification

    /// How a refusal is handled: 408, 425, 429 and 5xx may pass (`wait` when the endpoint said
    /// when), any other status will not.
    static func errorClass(status: Int, retryAfter: Duration?) -> ErrorClass {
        HTTPFailure.errorClass(status: status, retryAfter: retryAfter)
    }

    private func rejection(status: Int, body: String, retryAfterHeader: String?, scrubber: SecretRedactor) -> TokenError {
        let retryAfter = retryAfterHeader.flatMap { RetryAfter.parse($0, now: clock.now()) }
        let errorClass = Self.errorClass(status: status, retryAfter: retryAfter)
        let (oauthError, description) = Self.oauthError(in: body)
        var said = oauthError.map { "\(status) \($0)" } ?? "HTTP \(status)"
        if let description, !description.isEmpty { said += ": \(Self.snippet(description))" }
        let advice: String
        switch (status, errorClass) {
        case (400, _) where oauthError == "invalid_grant", (401, _):
            advice =
                "the refresh token is no longer valid (revoked, expired, or rotated by another client); "
                + "log in again and put the new credential in the broker's credentials file"
        case (400, _), (403, _):
            advice = "the token endpoint refuses this request; check the token URL, client id and scope, then log in again if it persists"
        case (_, .wait):
            advice = "retry after \(retryAfter.map { "\($0)" } ?? "the time it gave")"
        case (_, .transient):
            advice = "the token endpoint is failing or overloaded; retry with backoff"
        default:
            advice = "check the token URL and client id"
        }
        return TokenError(
            code: .rejected(status: status),
            message: scrubber("the token endpoint \(endpoint) refused the refresh (\(said)); \(advice)"),
            errorClass: errorClass,
            retryAfter: retryAfter,
            oauthError: oauthError.map { scrubber($0) }
        )
    }

    private func transportError(_ error: any Error, scrubber: SecretRedactor) -> TokenError {
        let said = scrubber(String(describing: error))
        switch HTTPFailure.Transport(error) {
        case .badURL:
            return TokenError(
                code: .misconfigured,
                message: "the token URL \(endpoint) is not usable (\(said)); check the token broker's token URL",
                errorClass: .permanent,
                cause: scrubber.scrub(error)
            )
        case .timedOut:
            return TokenError(
                code: .timedOut,
                message: "the token endpoint \(endpoint) did not answer within \(configuration.timeout) (\(said)); "
                    + "retry with backoff, and check that it is reachable if it persists",
                errorClass: .transient,
                cause: scrubber.scrub(error)
            )
        case .unreachable:
            break
        }
        return TokenError(
            code: .unreachable,
            message: "could not reach the token endpoint \(endpoint) (\(said)); "
                + "retry with backoff, and check the address, DNS and any proxy if it persists",
            errorClass: .transient,
            cause: scrubber.scrub(error)
        )
    }

    /// The OAuth `error` and `error_description` of an error answer (RFC 6749 §5.2), or the
    /// `type` and `message` of an Anthropic-style `{"error": {"type", "message"}}` answer.
    static func oauthError(in body: String) -> (error: String?, description: String?) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            return (nil, body.isEmpty ? nil : body)
        }
        if let error = object["error"] as? String {
            return (error, object["error_description"] as? String)
        }
        if let error = object["error"] as? [String: Any] {
            return (error["type"] as? String, error["message"] as? String)
        }
        return (nil, nil)
    }

    private static func snippet(_ text: String) -> String {
        let oneLine = text.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
        return oneLine.count > 200 ? "\(oneLine.prefix(200))…" : oneLine
    }
}

/// `application/x-www-form-urlencoded` as the URL Standard serializes it: only unreserved
/// characters stay as they are.
enum FormEncoding {
    static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}

/// The `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
enum RetryAfter {
    static func parse(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSince(now).rounded(.up))))
    }
}
