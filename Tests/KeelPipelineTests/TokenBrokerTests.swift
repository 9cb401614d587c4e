import AsyncHTTPClient
import Foundation
import KeelAgents
import KeelCore
@testable import KeelPipeline
import KeelTestSupport
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Tokens shaped like Claude Code's; none may ever surface in an error or a description.
private let oldAccess = "sk-ant-oat01-staleAccessToken_AAAAAAAAAAAAAAAAAAAA"
private let oldRefresh = "sk-ant-ort01-canonicalRefresh_BBBBBBBBBBBBBBBBBBBB"
private let newAccess = "sk-ant-oat01-freshAccessToken_CCCCCCCCCCCCCCCCCCCC"
private let newRefresh = "sk-ant-ort01-rotatedRefresh_DDDDDDDDDDDDDDDDDDDDDD"
private let allTokens = [oldAccess, oldRefresh, newAccess, newRefresh]

private let tokenPath = "/v1/oauth/token"
private let clientID = "keel-test-client"

/// A successful refresh-token grant, as RFC 6749 §5.1 shapes it.
private func grant(access: String = newAccess, refresh: String? = newRefresh, expiresIn: Int = 28_800) -> LoopbackHTTPServer.Response {
    var object: [String: Any] = ["access_token": access, "token_type": "Bearer", "expires_in": expiresIn, "scope": "user:inference"]
    if let refresh { object["refresh_token"] = refresh }
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    return .json(String(decoding: data, as: UTF8.self))
}

/// Writes Claude Code's `.credentials.json` shape with extra keys the broker must keep.
@discardableResult
private func writeClaudeCredentials(
    _ tmp: TemporaryDirectory, access: String = oldAccess, refresh: String = oldRefresh, expiresAt: Date, mode: Int = 0o600
) throws -> CredentialsFile {
    let path = tmp.path(".credentials.json")
    let document: [String: Any] = [
        "claudeAiOauth": [
            "accessToken": access,
            "refreshToken": refresh,
            "expiresAt": Int64(expiresAt.timeIntervalSince1970 * 1000),
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max",
        ],
        "mcpOAuth": ["server": "kept as it was"],
    ]
    try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    return CredentialsFile(path: path, layout: .claudeCode)
}

private func readJSON(_ path: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
}

private func mode(of path: String) throws -> Int {
    try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
}


private func httpRefresher(
    _ server: LoopbackHTTPServer, _ client: HTTPClient, clock: ManualWallClock,
    encoding: HTTPTokenRefresher.Configuration.BodyEncoding = .form
) -> HTTPTokenRefresher {
    HTTPTokenRefresher(
        configuration: .init(tokenURL: server.url + tokenPath, clientID: clientID, bodyEncoding: encoding, timeout: .seconds(10)),
        httpClient: client,
        clock: clock
    )
}

/// The form fields of a request body.
private func formFields(_ body: String) -> [String: String] {
    var fields: [String: String] = [:]
    for pair in body.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
        fields[parts[0]] = parts.count > 1 ? parts[1] : ""
    }
    return fields
}

/// The error `borrow()` throws, or nil (recorded as an issue) when it lends a token.
private func borrowError(_ broker: TokenBroker, sourceLocation: SourceLocation = #_sourceLocation) async -> TokenError? {
    do {
        let token = try await broker.borrow()
        Issue.record("lent a token expiring at \(token.expiresAt) instead of failing", sourceLocation: sourceLocation)
        return nil
    } catch let error as TokenError {
        return error
    } catch {
        Issue.record("not a TokenError: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Every text a person or a log could see of `value`.
private func everyRendering(_ value: Any) -> [String] {
    var dumped = ""
    dump(value, to: &dumped)
    var texts = [String(describing: value), String(reflecting: value), "\(value)", dumped]
    if let error = value as? TokenError, let cause = error.cause {
        texts += everyRendering(cause)
    }
    return texts
}

private func expectNoToken(in value: Any, sourceLocation: SourceLocation = #_sourceLocation) {
    for text in everyRendering(value) {
        for token in allTokens {
            #expect(!text.contains(token), "a token leaked into: \(text.prefix(300))", sourceLocation: sourceLocation)
        }
    }
}

/// A refresher that counts its calls and, when given a gate, holds every call until it opens.
private final class CountingRefresher: TokenRefresher {
    private let calls = Mutex<[String]>([])
    private let gate: Gate?
    private let answer: @Sendable (Int) throws -> RefreshedToken

    init(gate: Gate? = nil, answer: @escaping @Sendable (Int) throws -> RefreshedToken = { _ in
        RefreshedToken(accessToken: newAccess, refreshToken: newRefresh, lifetime: .seconds(3600))
    }) {
        self.gate = gate
        self.answer = answer
    }

    var count: Int { calls.withLock { $0.count } }
    var refreshTokensUsed: [String] { calls.withLock { $0 } }

    func refresh(using refreshToken: String) async throws -> RefreshedToken {
        let call = calls.withLock { calls in
            calls.append(refreshToken)
            return calls.count
        }
        await gate?.wait()
        return try answer(call)
    }
}

/// Holds waiters until opened.
private final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiting { waiter.resume() }
    }
}

/// Waits (in real time) until `condition` holds.
private func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// Sends `request` byte for byte to 127.0.0.1:`port` and reads the answer until the server
/// closes: for requests a well-behaved client would not send. Runs on its own thread, since
/// the socket calls block.
private func rawHTTP(port: Int, _ request: String) async throws -> (status: Int, text: String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try blockingHTTP(port: port, request) })
        }.start()
    }
}

private func blockingHTTP(port: Int, _ request: String) throws -> (status: Int, text: String) {
    let descriptor = try connectedSocket(port: port)
    defer { close(descriptor) }
    let bytes = Array(request.utf8)
    var sent = 0
    while sent < bytes.count {
        let count = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { throw POSIXError(.EIO) }
        sent += count
    }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    let text = String(decoding: received, as: UTF8.self)
    let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
    return (status, text)
}

/// A TCP connection to 127.0.0.1:`port` (reads time out after 10 s); the caller closes it.
private func connectedSocket(port: Int) throws -> Int32 {
    #if canImport(Glibc)
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard descriptor >= 0 else { throw POSIXError(.EIO) }
    // Generous: the suite runs beside others on two cores; a hang is caught by the test's time limit.
    var timeout = timeval(tv_sec: 45, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(descriptor)
        throw POSIXError(.ECONNREFUSED)
    }
    return descriptor
}

private struct LeakyRefresherError: Error, CustomStringConvertible {
    var description: String { "upstream said: refresh_token=\(oldRefresh) access_token=\(oldAccess)" }
}

@Suite struct TokenBrokerTests {
    // MARK: - Refresh before lending (incident 5)

    @Test func tokenAlreadyExpiredAtHandOutIsRefreshedBeforeTheBorrowerGetsIt() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            try await LoopbackHTTPServer.withServer(answering: grant()) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let token = try await broker.borrow()

                    #expect(token.accessToken == newAccess)
                    #expect(token.expiresAt == clock.now().addingTimeInterval(28_800))
                    #expect(token.expiresAt > clock.now())
                }
                let request = try #require(server.requests.first)
                #expect(server.requests.count == 1)
                #expect(request.method == "POST")
                #expect(request.path == tokenPath)
                #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
                #expect(formFields(request.text) == ["grant_type": "refresh_token", "refresh_token": oldRefresh, "client_id": clientID])
            }
        }
    }

    @Test func tokenWithFourMinutesLeftIsRefreshed() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(4 * 60))
            let refresher = CountingRefresher()
            let broker = try TokenBroker(credentialsFile: file, refresher: refresher, clock: clock)

            let token = try await broker.borrow()
            #expect(token.accessToken == newAccess)
            #expect(refresher.count == 1)
            #expect(refresher.refreshTokensUsed == [oldRefresh])
        }
    }

    @Test func tokenWithSixMinutesLeftIsLentWithoutARoundTrip() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let expiry = clock.now().addingTimeInterval(6 * 60)
            let file = try writeClaudeCredentials(tmp, expiresAt: expiry)
            try await LoopbackHTTPServer.withServer(answering: grant()) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    for _ in 0..<10 {
                        let token = try await broker.borrow()
                        #expect(token.accessToken == oldAccess)
                        #expect(token.expiresAt == expiry)
                    }
                    #expect(server.requests.isEmpty)

                    // Sixty-one seconds later it has 4:59 left: now it is refreshed first.
                    clock.advance(by: 61)
                    #expect(try await broker.borrow().accessToken == newAccess)
                    #expect(server.requests.count == 1)
                }
            }
        }
    }

    @Test func minimumLifetimeIsConfigurable() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(6 * 60))
            let refresher = CountingRefresher()
            let broker = try TokenBroker(
                credentialsFile: file, refresher: refresher, clock: clock,
                configuration: .init(minimumLifetime: .seconds(10 * 60)))

            #expect(try await broker.borrow().accessToken == newAccess)
            #expect(refresher.count == 1)
        }
    }

    // MARK: - Single flight

    @Test func hundredConcurrentBorrowersWhileARefreshIsNeededCauseOneRefresh() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-1))
            let gate = Gate()
            let refresher = CountingRefresher(gate: gate)
            let broker = try TokenBroker(credentialsFile: file, refresher: refresher, clock: clock)

            let tokens = try await withThrowingTaskGroup(of: BorrowedToken.self) { group in
                for _ in 0..<100 {
                    group.addTask { try await broker.borrow() }
                }
                // Hold the refresh until all the other 99 are waiting for it.
                let allWaiting = try await eventually { await broker.waitingBorrowers == 99 }
                #expect(allWaiting)
                #expect(refresher.count == 1)
                gate.open()
                return try await group.reduce(into: []) { $0.append($1) }
            }

            #expect(tokens.count == 100)
            #expect(tokens.allSatisfy { $0.accessToken == newAccess })
            #expect(refresher.count == 1)
        }
    }

    @Test func hundredConcurrentBorrowersShareOneRefreshOverHTTP() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-3600))
            try await LoopbackHTTPServer.withServer(answering: grant()) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let tokens = try await withThrowingTaskGroup(of: BorrowedToken.self) { group in
                        for _ in 0..<100 {
                            group.addTask { try await broker.borrow() }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(tokens.count == 100)
                    #expect(tokens.allSatisfy { $0.accessToken == newAccess && $0.expiresAt > clock.now() })
                }
                #expect(server.requests.count == 1)
            }
        }
    }

    // MARK: - Failures are classified and lend nothing

    @Test func failingRefreshOfAnExpiredTokenIsTransientAndLendsNoToken() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-120))
            let failure = LoopbackHTTPServer.Response.json(
                #"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#, status: 500)
            try await LoopbackHTTPServer.withServer(answering: failure) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let error = try #require(await borrowError(broker))
                    #expect(error.errorClass == .transient)
                    #expect(error.code == .rejected(status: 500))
                    #expect(error.isRetryable)
                    #expect(error.message.contains("expired 2 min ago"))
                    #expect(error.message.contains("none was lent"))
                    expectNoToken(in: error)

                    // The next borrower tries again (one more round trip) and still gets no token.
                    #expect(await borrowError(broker)?.errorClass == .transient)
                    #expect(server.requests.count == 2)

                    // Once the endpoint recovers, borrowing works.
                    server.enqueue(grant())
                    #expect(try await broker.borrow().accessToken == newAccess)
                }
            }
        }
    }

    @Test func failingRefreshOfATokenUnderTheMinimumLendsNoToken() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(4 * 60))
            try await LoopbackHTTPServer.withServer(answering: .text("Bad Gateway", status: 502)) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let error = try #require(await borrowError(broker))
                    #expect(error.errorClass == .transient)
                    #expect(error.message.contains("has only 4 min left"))
                }
            }
        }
    }

    @Test func invalidGrantIsPermanent() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let refused = LoopbackHTTPServer.Response.json(
                #"{"error":"invalid_grant","error_description":"Refresh token not found or invalid"}"#, status: 400)
            try await LoopbackHTTPServer.withServer(answering: refused) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let error = try #require(await borrowError(broker))
                    #expect(error.errorClass == .permanent)
                    #expect(!error.isRetryable)
                    #expect(error.code == .rejected(status: 400))
                    #expect(error.oauthError == "invalid_grant")
                    #expect(error.message.contains("400 invalid_grant: Refresh token not found or invalid"))
                    #expect(error.message.contains("log in again"))
                }
            }
        }
    }

    @Test func unauthorizedClientIsPermanent() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let refused = LoopbackHTTPServer.Response.json(#"{"error":"invalid_client"}"#, status: 401)
            try await LoopbackHTTPServer.withServer(answering: refused) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let error = try #require(await borrowError(broker))
                    #expect(error.errorClass == .permanent)
                    #expect(error.code == .rejected(status: 401))
                }
            }
        }
    }

    @Test func rateLimitWithRetryAfterIsWaitAndNoRefreshIsTriedBeforeThen() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let limited = LoopbackHTTPServer.Response.json(
                #"{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}"#, status: 429, headers: [("Retry-After", "30")])
            try await LoopbackHTTPServer.withServer { server in
                server.enqueue(limited)
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    let error = try #require(await borrowError(broker))
                    #expect(error.errorClass == .wait)
                    #expect(error.retryAfter == .seconds(30))
                    #expect(error.code == .rejected(status: 429))

                    // Ten seconds later: the same answer, without asking the endpoint again.
                    clock.advance(by: 10)
                    let again = try #require(await borrowError(broker))
                    #expect(again.errorClass == .wait)
                    #expect(again.retryAfter == .seconds(20))
                    #expect(server.requests.count == 1)

                    // After the wait, the refresh is tried and succeeds.
                    clock.advance(by: 21)
                    server.enqueue(grant())
                    #expect(try await broker.borrow().accessToken == newAccess)
                    #expect(server.requests.count == 2)
                }
            }
        }
    }

    @Test func unreachableTokenEndpointIsTransient() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let port = try await LoopbackPort.refusingConnections()
            try await withHTTPClient { client in
                let refresher = HTTPTokenRefresher(
                    configuration: .init(tokenURL: "http://127.0.0.1:\(port)\(tokenPath)", clientID: clientID, timeout: .seconds(10)),
                    httpClient: client, clock: clock)
                let broker = try TokenBroker(credentialsFile: file, refresher: refresher, clock: clock)
                let error = try #require(await borrowError(broker))
                #expect(error.errorClass == .transient)
                #expect(error.code == .unreachable)
                expectNoToken(in: error)
            }
        }
    }

    @Test func anotherRefresherErrorIsTransientAndScrubbed() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let broker = try TokenBroker(
                credentialsFile: file, refresher: CountingRefresher { _ in throw LeakyRefresherError() }, clock: clock)
            let error = try #require(await borrowError(broker))
            #expect(error.errorClass == .transient)
            #expect(error.code == .refreshFailed)
            #expect(error.message.contains("[REDACTED]"))
            expectNoToken(in: error)
        }
    }

    @Test func reloadPicksUpACredentialAPersonReplacedAfterAPermanentFailure() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let refused = LoopbackHTTPServer.Response.json(#"{"error":"invalid_grant"}"#, status: 400)
            try await LoopbackHTTPServer.withServer(answering: refused) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    #expect(await borrowError(broker)?.errorClass == .permanent)

                    // A person logs in again and puts the new credential in place.
                    try writeClaudeCredentials(tmp, access: newAccess, refresh: newRefresh, expiresAt: clock.now().addingTimeInterval(8 * 3600))
                    try await broker.reload()
                    #expect(try await broker.borrow().accessToken == newAccess)
                    #expect(server.requests.count == 1)
                    #expect(Set(await broker.secretsToRedact) == Set(allTokens))
                }
            }
        }
    }

    // MARK: - The credentials file

    @Test func rotatedRefreshTokenIsPersistedAtomicallyWithMode0600() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60), mode: 0o644)
            try await LoopbackHTTPServer.withServer(answering: grant()) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    _ = try await broker.borrow()
                }

                #expect(try mode(of: file.path) == 0o600)
                let document = try readJSON(file.path)
                let oauth = try #require(document["claudeAiOauth"] as? [String: Any])
                #expect(oauth["accessToken"] as? String == newAccess)
                #expect(oauth["refreshToken"] as? String == newRefresh)
                #expect((oauth["expiresAt"] as? NSNumber)?.int64Value == Int64((clock.now().timeIntervalSince1970 + 28_800) * 1000))
                #expect(oauth["scopes"] as? [String] == ["user:inference", "user:profile"])
                #expect(oauth["subscriptionType"] as? String == "max")
                #expect((document["mcpOAuth"] as? [String: String])?["server"] == "kept as it was")
                #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == [".credentials.json"])

                // A broker started from the file later refreshes with the rotated token.
                clock.advance(by: 28_800)
                server.enqueue(grant(access: "sk-ant-oat01-third", refresh: nil))
                try await withHTTPClient { client in
                    let restarted = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    #expect(try await restarted.borrow().accessToken == "sk-ant-oat01-third")
                }
                #expect(formFields(try #require(server.requests.last).text)["refresh_token"] == newRefresh)
            }
        }
    }

    @Test func refreshWithoutRotationKeepsTheRefreshToken() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            try await LoopbackHTTPServer.withServer(answering: grant(refresh: nil)) { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    #expect(try await broker.borrow().accessToken == newAccess)
                }
            }
            let loaded = try file.load()
            #expect(loaded.accessToken == newAccess)
            #expect(loaded.refreshToken == oldRefresh)
        }
    }

    @Test func genericOAuthLayoutIsReadAndWritten() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let path = tmp.path("credentials.json")
            let expired = Int64(clock.now().timeIntervalSince1970) - 60
            try Data(#"{"access_token":"\#(oldAccess)","refresh_token":"\#(oldRefresh)","expires_at":\#(expired)}"#.utf8)
                .write(to: URL(fileURLWithPath: path))
            let file = CredentialsFile(path: path, layout: .oauth)
            let broker = try TokenBroker(credentialsFile: file, refresher: CountingRefresher(), clock: clock)

            #expect(try await broker.borrow().accessToken == newAccess)
            let document = try readJSON(path)
            #expect(document["refresh_token"] as? String == newRefresh)
            #expect((document["expires_at"] as? NSNumber)?.int64Value == Int64(clock.now().timeIntervalSince1970) + 3600)
            #expect(try mode(of: path) == 0o600)
        }
    }

    @Test func credentialsWithoutARefreshTokenAreRefusedAtStartup() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let path = tmp.path(".credentials.json")
            try Data(#"{"claudeAiOauth":{"accessToken":"\#(oldAccess)","expiresAt":1790000000000}}"#.utf8).write(to: URL(fileURLWithPath: path))
            do throws(TokenError) {
                _ = try TokenBroker(credentialsFile: CredentialsFile(path: path), refresher: CountingRefresher())
                Issue.record("a credential without a refresh token was accepted")
            } catch {
                #expect(error.code == .credentialsFile)
                #expect(error.errorClass == .permanent)
                #expect(error.message.contains("refreshToken"))
                expectNoToken(in: error)
            }
            do throws(TokenError) {
                _ = try TokenBroker(credentialsFile: CredentialsFile(path: tmp.path("missing.json")), refresher: CountingRefresher())
                Issue.record("a missing credentials file was accepted")
            } catch {
                #expect(error.code == .credentialsFile)
                #expect(error.message.contains("no credentials file"))
            }
        }
    }

    @Test func jsonBodyEncodingSendsTheGrantAsJSON() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            try await LoopbackHTTPServer.withServer(answering: grant()) { server in
                try await withHTTPClient { client in
                    let refresher = httpRefresher(server, client, clock: clock, encoding: .json)
                    let broker = try TokenBroker(credentialsFile: file, refresher: refresher, clock: clock)
                    _ = try await broker.borrow()
                }
                let request = try #require(server.requests.first)
                #expect(request.header("Content-Type") == "application/json")
                let body = try #require(JSONSerialization.jsonObject(with: Data(request.body)) as? [String: String])
                #expect(body == ["grant_type": "refresh_token", "refresh_token": oldRefresh, "client_id": clientID])
            }
        }
    }

    // MARK: - The local endpoint

    @Test func localEndpointLendsATokenOnlyToCallersWithTheBearerSecret() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let refresher = CountingRefresher()
            let broker = try TokenBroker(credentialsFile: file, refresher: refresher, clock: clock)
            let secret = BearerSecret.random()

            try await TokenBrokerServer.withServer(broker: broker, secret: secret) { server in
                #expect(server.tokenURL == "http://127.0.0.1:\(server.port)/token")
                try await withHTTPClient { client in
                    // Without the secret, or with a wrong one: 401, and the broker is not even asked.
                    let requests = [
                        "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                        "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer not-the-secret-at-all\r\n\r\n",
                        "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic \(secret.value)\r\n\r\n",
                        "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(secret.value)x\r\n\r\n",
                        "GET /secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                    ]
                    for request in requests {
                        let refused = try await rawHTTP(port: server.port, request)
                        #expect(refused.status == 401, "\(request)")
                        #expect(refused.text.contains("WWW-Authenticate: Bearer"))
                        #expect(!refused.text.contains("sk-ant-"))
                    }
                    let wrong = TokenBrokerClient(url: server.tokenURL, secret: "not-the-secret-at-all", httpClient: client)
                    await #expect(throws: TokenError.self) { try await wrong.borrow() }
                    #expect(refresher.count == 0)

                    // With it: a fresh token (the stored one had expired).
                    let worker = try #require(TokenBrokerClient(environment: server.workerEnvironment, httpClient: client))
                    let token = try await worker.borrow()
                    #expect(token.accessToken == newAccess)
                    #expect(token.expiresAt == clock.now().addingTimeInterval(3600))
                    #expect(refresher.count == 1)
                    let raw = try await rawHTTP(
                        port: server.port, "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(secret.value)\r\n\r\n")
                    #expect(raw.status == 200)
                    #expect(raw.text.contains("Cache-Control: no-store"))
                    #expect(raw.text.hasSuffix(#"{"access_token":"\#(newAccess)","expires_at":\#(Int64(clock.now().timeIntervalSince1970) + 3600)}"#))

                    // Other routes and methods, with the secret.
                    let missing = try await rawHTTP(
                        port: server.port, "GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(secret.value)\r\n\r\n")
                    #expect(missing.status == 404)
                    let posted = try await rawHTTP(
                        port: server.port,
                        "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(secret.value)\r\nContent-Length: 2\r\n\r\n{}")
                    #expect(posted.status == 405)
                    #expect(refresher.count == 1)
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func localEndpointStopsWithAnIdleConnectionOpen() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(3600))
            let broker = try TokenBroker(credentialsFile: file, refresher: CountingRefresher(), clock: clock)
            let idle = try await TokenBrokerServer.withServer(broker: broker, secret: BearerSecret.random()) { server in
                // A connection that never sends a request must not keep the endpoint alive.
                let descriptor = try connectedSocket(port: server.port)
                _ = try await rawHTTP(port: server.port, "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return descriptor
            }
            // Returning at all is the point (the test's time limit catches a hang); durations are not asserted.
            close(idle)
        }
    }

    @Test func localEndpointReportsAFailedRefreshWithItsClassAndNoToken() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let refused = LoopbackHTTPServer.Response.json(
                #"{"error":"invalid_grant","error_description":"refresh token \#(oldRefresh) was revoked"}"#, status: 400)
            try await LoopbackHTTPServer.withServer(answering: refused) { upstream in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(upstream, client, clock: clock), clock: clock)
                    let secret = try #require(BearerSecret("a-per-run-secret-for-this-test"))
                    try await TokenBrokerServer.withServer(broker: broker, secret: secret) { server in
                        let raw = try await rawHTTP(
                            port: server.port, "GET /token HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(secret.value)\r\n\r\n")
                        #expect(raw.status == 502)
                        #expect(raw.text.contains(#""error_class":"permanent""#))
                        #expect(!raw.text.contains("access_token"))
                        #expect(!allTokens.contains { raw.text.contains($0) })

                        let worker = TokenBrokerClient(url: server.tokenURL, secret: secret.value, httpClient: client)
                        do {
                            _ = try await worker.borrow()
                            Issue.record("the worker was lent a token")
                        } catch let error as TokenError {
                            #expect(error.errorClass == .permanent)
                            #expect(error.message.contains("invalid_grant"))
                            expectNoToken(in: error)
                        }
                    }
                }
            }
        }
    }

    @Test func workerSeesATransientBrokerFailureAsTransient() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let limited = LoopbackHTTPServer.Response.json(#"{"error":"slow_down"}"#, status: 429, headers: [("Retry-After", "45")])
            try await LoopbackHTTPServer.withServer(answering: limited) { upstream in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(upstream, client, clock: clock), clock: clock)
                    let secret = BearerSecret.random()
                    try await TokenBrokerServer.withServer(broker: broker, secret: secret) { server in
                        let worker = TokenBrokerClient(url: server.tokenURL, secret: secret.value, httpClient: client)
                        do {
                            _ = try await worker.borrow()
                            Issue.record("the worker was lent a token")
                        } catch let error as TokenError {
                            #expect(error.errorClass == .wait)
                            #expect(error.retryAfter == .seconds(45))
                            #expect(error.code == .rejected(status: 503))
                        }
                    }
                }
            }
        }
    }

    // MARK: - Redaction

    @Test func noTokenTextInAnyErrorOrDescription() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            // An endpoint that echoes both tokens back in every error it gives.
            let echo = "refresh_token=\(oldRefresh) for access_token=\(oldAccess)"
            let answers: [LoopbackHTTPServer.Response] = [
                .json(#"{"error":"invalid_grant","error_description":"\#(echo)"}"#, status: 400),
                .json(#"{"error":{"type":"\#(oldRefresh)","message":"\#(echo)"}}"#, status: 403),
                .text(echo, status: 500),
                .json(#"{"error":"slow_down","error_description":"\#(echo)"}"#, status: 429, headers: [("Retry-After", "1")]),
                .json(#"{"token_type":"Bearer","note":"\#(echo)"}"#),
                .text("<html>\(echo)</html>"),
            ]
            var errors: [TokenError] = []
            try await LoopbackHTTPServer.withServer { server in
                try await withHTTPClient { client in
                    let broker = try TokenBroker(credentialsFile: file, refresher: httpRefresher(server, client, clock: clock), clock: clock)
                    for answer in answers {
                        server.enqueue(answer)
                        if let error = await borrowError(broker) { errors.append(error) }
                        clock.advance(by: 2)  // past any Retry-After
                    }
                    // The broker's own values print no token either.
                    server.enqueue(grant())
                    let token = try await broker.borrow()
                    expectNoToken(in: token)
                    let environment = try await broker.environment(for: .claudeCode)
                    expectNoToken(in: environment)
                    expectNoToken(in: broker)
                }
            }
            #expect(errors.count == answers.count)
            #expect(errors.map(\.errorClass) == [.permanent, .permanent, .transient, .wait, .transient, .transient])
            for error in errors { expectNoToken(in: error) }
            expectNoToken(in: try file.load())
            expectNoToken(in: RefreshedToken(accessToken: newAccess, refreshToken: newRefresh, lifetime: .seconds(1)))
            let secret = BearerSecret.random()
            let worker = TokenBrokerClient(url: "http://127.0.0.1:1/token", secret: secret.value)
            for value in [secret, worker] as [Any] {
                for text in everyRendering(value) { #expect(!text.contains(secret.value)) }
            }
        }
    }

    @Test func secretsToRedactListCurrentAndRotatedTokens() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(-60))
            let broker = try TokenBroker(credentialsFile: file, refresher: CountingRefresher(), clock: clock)
            #expect(Set(await broker.secretsToRedact) == [oldAccess, oldRefresh])

            _ = try await broker.borrow()
            let secrets = await broker.secretsToRedact
            #expect(Set(secrets) == Set(allTokens))
            #expect(Array(secrets.prefix(2)) == [newAccess, newRefresh])
        }
    }

    // MARK: - The agent's environment

    @Test func environmentPutsTheTokenWhereTheAgentReadsIt() async throws {
        try await withTemporaryDirectory(prefix: "keel-tokens") { tmp in
            let clock = ManualWallClock()
            let file = try writeClaudeCredentials(tmp, expiresAt: clock.now().addingTimeInterval(3600))
            let broker = try TokenBroker(credentialsFile: file, refresher: CountingRefresher(), clock: clock)

            let claude = try await broker.environment(for: .claudeCode)
            #expect(claude.variables == ["CLAUDE_CODE_OAUTH_TOKEN": oldAccess])
            #expect(claude.unset == ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
            var spec = ProcessSpec(executable: "claude", environment: ["KEEL_ITEM_ID": "7", "ANTHROPIC_API_KEY": "from keel.yml"])
            claude.apply(to: &spec)
            #expect(spec.environment["CLAUDE_CODE_OAUTH_TOKEN"] == oldAccess)
            #expect(spec.environment["KEEL_ITEM_ID"] == "7")
            #expect(spec.unsetEnvironment.contains("ANTHROPIC_API_KEY"))
            #expect(spec.environment["ANTHROPIC_API_KEY"] == nil)
            #expect(Set(spec.redactions) == [oldAccess, oldRefresh])

            #expect(try await broker.environment(for: .codex).variables == ["KEEL_ACCESS_TOKEN": oldAccess])

            let renamed = try TokenBroker(
                credentialsFile: file, refresher: CountingRefresher(), clock: clock,
                configuration: .init(tokenVariables: [.claudeCode: "ANTHROPIC_AUTH_TOKEN"]))
            let gateway = try await renamed.environment(for: .claudeCode)
            #expect(gateway.variables == ["ANTHROPIC_AUTH_TOKEN": oldAccess])
            #expect(gateway.unset == ["ANTHROPIC_API_KEY"])
        }
    }
}
