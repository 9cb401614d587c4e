public import AsyncHTTPClient
import Foundation
import KeelCore
import NIOCore
import NIOHTTP1

/// How a worker process borrows a token from the ``TokenBrokerServer`` of its run.
///
/// The broker's answer keeps its classification: a refresh that failed transiently arrives as a
/// transient ``TokenError`` (with `retryAfter` when the broker knows it), a refused refresh token
/// as a permanent one. A broker that cannot be reached is transient; a refused secret is
/// permanent (the worker belongs to another run).
///
/// ```swift
/// guard let client = TokenBrokerClient(environment: ProcessInfo.processInfo.environment) else { ... }
/// let token = try await client.borrow()
/// ```
public struct TokenBrokerClient: Sendable, CustomStringConvertible, CustomReflectable {
    /// The endpoint, e.g. `http://127.0.0.1:41234/token`.
    public let url: String
    private let secret: String
    private let client: HTTPClient
    private let timeout: Duration

    /// A client for the endpoint at `url`, presenting `secret`.
    public init(url: String, secret: String, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(60)) {
        self.url = url
        self.secret = secret
        self.client = httpClient
        self.timeout = timeout
    }

    /// A client configured from ``TokenBrokerServer/workerEnvironment``; nil when the variables are absent.
    public init?(environment: [String: String], httpClient: HTTPClient = .shared) {
        guard let url = environment[TokenBrokerServer.urlVariable], let secret = environment[TokenBrokerServer.secretVariable],
            !url.isEmpty, !secret.isEmpty
        else { return nil }
        self.init(url: url, secret: secret, httpClient: httpClient)
    }

    /// The endpoint only, never the secret.
    public var description: String { "TokenBrokerClient(\(url))" }
    /// A mirror without the secret.
    public var customMirror: Mirror { Mirror(self, children: ["url": url], displayStyle: .struct) }

    /// Borrows a token from the broker.
    public func borrow() async throws -> BorrowedToken {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(secret)")
        let status: Int
        let body: String
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            status = Int(response.status.code)
            body = String(buffer: try await response.body.collect(upTo: 64 * 1024))
        } catch let error as CancellationError {
            throw error
        } catch {
            throw TokenError(
                code: .unreachable,
                message: "could not reach the token broker at \(url) (\(SecretRedactor(secrets: [secret])(String(describing: error)))); retry with backoff",
                errorClass: .transient,
                cause: SecretRedactor(secrets: [secret]).scrub(error)
            )
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        if status == 200 {
            guard let token = object["access_token"] as? String, !token.isEmpty, let expiresAt = (object["expires_at"] as? NSNumber)?.doubleValue
            else {
                throw TokenError(
                    code: .protocolViolation, message: "the token broker at \(url) answered 200 without a token; retry shortly",
                    errorClass: .transient)
            }
            return BorrowedToken(accessToken: token, expiresAt: Date(timeIntervalSince1970: expiresAt))
        }
        let message = object["message"] as? String
        switch status {
        case 401:
            throw TokenError(
                code: .rejected(status: 401),
                message: "the token broker at \(url) refused this worker's secret; the worker must get the secret of the run that started it",
                errorClass: .permanent)
        case 404, 405:
            throw TokenError(
                code: .misconfigured, message: "\(url) is not a token broker's GET /token endpoint (HTTP \(status))", errorClass: .permanent)
        default:
            let errorClass = (object["error_class"] as? String).flatMap(ErrorClass.init(rawValue:)) ?? (status >= 500 ? .transient : .permanent)
            let retryAfter = (object["retry_after_seconds"] as? NSNumber).map { Duration.seconds($0.intValue) }
            throw TokenError(
                code: .rejected(status: status),
                message: "the token broker could not lend a token: \(message ?? "HTTP \(status)")",
                errorClass: errorClass,
                retryAfter: retryAfter
            )
        }
    }
}
