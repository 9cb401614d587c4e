public import AsyncHTTPClient
import Foundation
import KeelCore
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The broker's local endpoint for workers: `GET /token` on 127.0.0.1 answers
/// `{"access_token": "…", "expires_at": <seconds since the epoch>}` to a caller presenting the
/// run's ``BearerSecret`` as `Authorization: Bearer <secret>`.
///
/// The token is borrowed at request time, so it is refreshed first when it is near its expiry
/// and is never expired. Every other request gets `401` (no or wrong secret: checked first, so a
/// caller without the secret learns nothing about the routes), `404` (another path) or `405`
/// (another method). When the broker cannot lend a token the answer is `503` (transient or
/// `wait`, with `Retry-After` when known) or `502` (permanent), with a JSON body
/// `{"error", "error_class", "message", "retry_after_seconds"?}` that holds no token. Answers
/// carry `Cache-Control: no-store` and the connection is closed after each one.
///
/// ```swift
/// let secret = BearerSecret.random()
/// try await TokenBrokerServer.withServer(broker: broker, secret: secret) { server in
///     // start workers with server.workerEnvironment in their environment
/// }
/// ```
public final class TokenBrokerServer: Sendable {
    /// The variable ``workerEnvironment`` puts the endpoint's URL in.
    public static let urlVariable = "KEEL_TOKEN_BROKER_URL"
    /// The variable ``workerEnvironment`` puts the secret in.
    public static let secretVariable = "KEEL_TOKEN_BROKER_SECRET"

    /// The port the endpoint listens on (chosen by the system unless one was asked for).
    public let port: Int
    /// `http://127.0.0.1:PORT/token`.
    public var tokenURL: String { "http://\(host):\(port)/token" }
    /// What a worker process needs to borrow: ``urlVariable`` and ``secretVariable``. Redact the
    /// secret wherever this environment is recorded.
    public var workerEnvironment: [String: String] {
        [Self.urlVariable: tokenURL, Self.secretVariable: secret.value]
    }

    /// A client of this endpoint, for workers in the same process.
    public func client(httpClient: HTTPClient = .shared) -> TokenBrokerClient {
        TokenBrokerClient(url: tokenURL, secret: secret.value, httpClient: httpClient)
    }

    private let host: String
    private let broker: TokenBroker
    private let secret: BearerSecret
    private let logger: Logger

    private init(host: String, port: Int, broker: TokenBroker, secret: BearerSecret, logger: Logger) {
        self.host = host
        self.port = port
        self.broker = broker
        self.secret = secret
        self.logger = logger
    }

    /// Starts the endpoint on `host` (loopback by default) and `port` (0: a free one), runs
    /// `body`, and stops the endpoint, its connections included, however `body` ends.
    public static func withServer<Result: Sendable>(
        broker: TokenBroker,
        secret: BearerSecret,
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger = Logger(label: "keel.tokens.server"),
        _ body: (TokenBrokerServer) async throws -> Result
    ) async throws -> Result {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let server = TokenBrokerServer(
            host: host, port: listener.channel.localAddress?.port ?? port, broker: broker, secret: secret, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve(listener) }
            // A throwing body cancels the serving task as the group unwinds; a returning one
            // must cancel it, or the group would wait for it forever.
            let result = try await body(server)
            group.cancelAll()
            return result
        }
    }

    // MARK: - Serving

    private func serve(_ listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>) async throws {
        try await listener.executeThenClose { connections in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in connections {
                    group.addTask { await self.handle(connection) }
                }
            }
        }
    }

    /// Answers one request, then closes the connection.
    private func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let received):
                        head = received
                    case .body:
                        continue  // no route takes a body
                    case .end:
                        guard let head else { return }
                        let answer = await self.answer(head)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: "application/json")
                        headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
                        headers.add(name: "Cache-Control", value: "no-store")
                        headers.add(name: "Connection", value: "close")
                        for (name, value) in answer.headers { headers.add(name: name, value: value) }
                        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: answer.body))))
                        try await outbound.write(.end(nil))
                        return
                    }
                }
            }
        } catch {
            logger.debug("a token endpoint connection ended early", metadata: ["error": "\(error)"])
        }
    }

    struct Answer {
        var status: HTTPResponseStatus
        var body: String
        var headers: [(String, String)] = []
    }

    func answer(_ head: HTTPRequestHead) async -> Answer {
        guard let presented = BearerSecret.presented(in: head.headers.first(name: "Authorization")), secret.matches(presented) else {
            return Answer(
                status: .unauthorized,
                body: Self.json(["error": "unauthorized", "message": "present this run's token broker secret as a bearer token"]),
                headers: [("WWW-Authenticate", #"Bearer realm="keel-token-broker""#)]
            )
        }
        guard head.uri.prefix(while: { $0 != "?" }) == "/token" else {
            return Answer(status: .notFound, body: Self.json(["error": "not_found", "message": "the only route is GET /token"]))
        }
        guard head.method == .GET else {
            return Answer(
                status: .methodNotAllowed, body: Self.json(["error": "method_not_allowed", "message": "use GET /token"]),
                headers: [("Allow", "GET")])
        }
        do {
            let token = try await broker.borrow()
            logger.debug("lent a token over the local endpoint", metadata: ["expires_at": "\(token.expiresAt.tokenTimestamp)"])
            return Answer(
                status: .ok,
                body: Self.json(["access_token": token.accessToken, "expires_at": Int64(token.expiresAt.timeIntervalSince1970.rounded(.down))])
            )
        } catch {
            let failure = error as? TokenError
            let errorClass = failure?.errorClass ?? .transient
            var body: [String: Any] = [
                "error": failure.map { "\($0.code)" } ?? "unavailable",
                "error_class": errorClass.rawValue,
                // The broker's errors hold no token; anything else is not repeated.
                "message": failure?.message ?? "the token broker could not lend a token; retry shortly",
            ]
            var headers: [(String, String)] = []
            if let retryAfter = failure?.retryAfter {
                let seconds = max(1, Int(retryAfter.components.seconds))
                body["retry_after_seconds"] = seconds
                headers.append(("Retry-After", String(seconds)))
            }
            return Answer(status: errorClass == .permanent ? .badGateway : .serviceUnavailable, body: Self.json(body), headers: headers)
        }
    }

    private static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
