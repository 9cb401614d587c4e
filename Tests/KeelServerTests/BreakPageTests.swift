import Foundation
import Hummingbird
import HummingbirdTesting
import KeelCore
import KeelLedger
import KeelServer
import KeelStore
import KeelTestSupport
import NIOCore
import Synchronization
import Testing

/// The break's page and the decision on it, over real HTTP on loopback with a real SQLite ledger.
@Suite struct BreakPageTests {
    static let token = "correct horse battery staple"

    /// The breaks `onDecision` was told about, in order.
    final class Decisions: Sendable {
        let seen = Mutex<[LedgerBreakRecord]>([])
        var all: [LedgerBreakRecord] { seen.withLock { $0 } }
    }

    struct Server {
        var store: SQLiteStore
        var clock: ManualWallClock
        var decisions: Decisions
        var client: any TestClientProtocol
    }

    func withServer(adminToken: String? = token, _ body: @escaping @Sendable (Server) async throws -> Void) async throws {
        try await withTemporaryDirectory(prefix: "keel-breaks") { tmp in
            let clock = ManualWallClock()
            let signer = SigningIdentity.generate(createdAt: Int64(clock.now().timeIntervalSince1970))
            let store = try SQLiteStore(path: tmp.path("keel.sqlite"), ledger: LedgerSettings(signer: signer))
            let decisions = Decisions()
            let router = KeelHTTP.router(store: store, ledger: store, adminToken: adminToken, clock: clock) { record in
                decisions.seen.withLock { $0.append(record) }
            }
            try await Application(router: router).test(.live) { client in
                try await body(Server(store: store, clock: clock, decisions: decisions, client: client))
            }
        }
    }

    /// One stamped event (an item's creation), then a break recorded against it.
    @discardableResult
    func breakAtFirstEvent(_ server: Server, message: String = "previous_hash of seq 1 does not match the genesis hash") async throws
        -> LedgerBreakRecord
    {
        _ = try await server.store.createItem(NewItem(repo: "r", title: "t", body: "b"), actor: "test", now: server.clock.now())
        let found = try await server.store.recordBreaks(
            [DetectedBreak(seq: 1, kind: "hash_mismatch", expected: "9f86d081", found: "60303ae2", message: message)], now: server.clock.now())
        return try #require(found.first)
    }

    func form(_ fields: [(String, String)]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = fields.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }
        return ByteBuffer(string: encoded.joined(separator: "&"))
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    func headers(json bearer: String?) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        return headers
    }

    /// The reference escaping the page must apply to anything it did not write itself.
    func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    struct LedgerJSON: Decodable {
        struct Break: Decodable {
            var id: Int64
            var seq: Int64?
            var kind: String
            var expected: String
            var found: String
            var message: String
            var detected_at: String
            var deadline: String
            var decision: String?
            var decided_by: String?
            var decided_at: String?
            var note: String?
            var timed_out: Bool
        }
        var status: String
        var events: Int64
        var breaks: [Break]
    }

    func ledger(_ client: any TestClientProtocol) async throws -> LedgerJSON {
        try await client.execute(uri: "/api/ledger", method: .get) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            return try JSONDecoder().decode(LedgerJSON.self, from: Data(String(buffer: response.body).utf8))
        }
    }

    // MARK: The page

    @Test func pageShowsTheBreakItsEvidenceAndTheThreeChoices() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            let events = try await server.store.ledgerEvents(after: 0, limit: nil)
            let detection = try #require(events.first { $0.seq == record.detectionSeq })
            #expect(detection.kind == "chain_break_detected")
            server.clock.advance(by: 3600)
            try await server.client.execute(uri: "/breaks/\(record.id)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let page = String(buffer: response.body)
                #expect(page.contains("hash_mismatch"))
                #expect(page.contains("seq 1"))
                #expect(page.contains("9f86d081") && page.contains("60303ae2"))
                #expect(page.contains(Timestamp.text(record.detectedAt)))
                #expect(page.contains(Timestamp.text(record.deadline)))
                #expect(page.contains("2 d 23 h left"))
                // Evidence: the stamped event at the break and the detection stamp, exactly as stored.
                #expect(page.contains(escaped(events[0].event)))
                #expect(page.contains(escaped(detection.event)))
                // One form, three explained choices, a name, an optional note and the token as a password.
                #expect(page.components(separatedBy: "<form ").count == 2)
                #expect(page.contains("action=\"/breaks/\(record.id)/resolve\""))
                for decision in ["validate", "ignore", "reject"] {
                    #expect(page.contains("name=\"decision\" value=\"\(decision)\""))
                }
                #expect(page.contains("explained and acceptable"))
                #expect(page.contains("the chain stays flagged"))
                #expect(page.contains("name=\"by\" required"))
                #expect(page.contains("name=\"note\""))
                #expect(page.contains("type=\"password\" name=\"token\""))
                #expect(!page.contains(Self.token))
                #expect(!page.contains("<script") && !page.contains("src=\"http"))
            }
        }
    }

    @Test func hostileBreakMessageIsEscaped() async throws {
        try await withServer { server in
            let hostile = #"<script>alert("x&y")</script> <img src=x onerror='steal()'>"#
            let record = try await breakAtFirstEvent(server, message: hostile)
            try await server.client.execute(uri: "/breaks/\(record.id)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(!page.contains("<script"))
                #expect(!page.contains("<img"))
                #expect(page.contains("&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; &lt;img src=x onerror=&#39;steal()&#39;&gt;"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            }
        }
    }

    @Test func unknownBreakIs404AndNonIntegerIs400() async throws {
        try await withServer { server in
            try await server.client.execute(uri: "/breaks/42", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body).contains("no break #42"))
            }
            try await server.client.execute(uri: "/breaks/abc", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    // MARK: Deciding

    @Test func postWithoutTokenOrWithTheWrongOneIs401AndDecidesNothing() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: Self.formHeaders,
                body: form([("decision", "validate"), ("by", "Ann")])
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("admin token is required"))
            }
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: Self.formHeaders,
                body: form([("decision", "validate"), ("by", "Ann"), ("token", "guess-\(Self.token)")])
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(!String(buffer: response.body).contains(Self.token))
            }
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: headers(json: "wrong"),
                body: ByteBuffer(string: #"{"decision":"validate","by":"Ann"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(!String(buffer: response.body).contains("wrong\""))
            }
            #expect(try await server.store.ledgerBreak(record.id)?.decision == nil)
            #expect(server.decisions.all.isEmpty)
        }
    }

    @Test func withoutAConfiguredTokenDecisionsAre403() async throws {
        try await withServer(adminToken: "") { server in
            let record = try await breakAtFirstEvent(server)
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: headers(json: "anything"),
                body: ByteBuffer(string: #"{"decision":"validate","by":"Ann"}"#)
            ) { response in
                #expect(response.status == .forbidden)
                let body = String(buffer: response.body)
                #expect(body.contains("server.admin_token_env") && body.contains("keel run"))
            }
            #expect(try await server.store.ledgerBreak(record.id)?.decision == nil)
        }
    }

    @Test func formPostWithTheTokenDecidesStampsAndRedirectsToThePage() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            #expect(try await ledger(server.client).status == "break_pending")
            server.clock.advance(by: 60)
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: Self.formHeaders,
                body: form([("decision", "validate"), ("by", "Ann Example"), ("note", "restart orphan, explained in #12"), ("token", Self.token)])
            ) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/breaks/\(record.id)")
            }
            let decided = try #require(try await server.store.ledgerBreak(record.id))
            #expect(decided.decision == "validate")
            #expect(decided.decidedBy == "Ann Example")
            #expect(decided.note == "restart orphan, explained in #12")
            #expect(decided.decidedAt == server.clock.now())
            let stamp = try #require(try await server.store.ledgerEvents(after: 0, limit: nil).first { $0.seq == decided.resolutionSeq })
            #expect(stamp.kind == "chain_break_resolution")
            #expect(stamp.subject == "break:\(record.id)")
            #expect(stamp.event.contains(#""decided_by":"Ann Example""#) && stamp.event.contains(#""decision":"validate""#))
            #expect(server.decisions.all == [decided])
            // The page now shows the decision instead of the form.
            try await server.client.execute(uri: "/breaks/\(record.id)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("Ann Example") && page.contains("restart orphan, explained in #12"))
                #expect(!page.contains("<form "))
            }
            let after = try await ledger(server.client)
            #expect(after.status == "valid")
            #expect(after.breaks.map(\.decision) == ["validate"])
        }
    }

    @Test func secondDecisionIs409AndNamesTheFirst() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            _ = try await server.store.resolveBreak(record.id, decision: .reject, by: "Bo", note: nil, now: server.clock.now())
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: Self.formHeaders,
                body: form([("decision", "validate"), ("by", "Ann"), ("token", Self.token)])
            ) { response in
                #expect(response.status == .conflict)
                let body = String(buffer: response.body)
                #expect(body.contains("reject by Bo"))
            }
            #expect(try await server.store.ledgerBreak(record.id)?.decision == "reject")
            #expect(server.decisions.all.isEmpty)
        }
    }

    @Test func jsonPostWithBearerAnswersTheUpdatedBreak() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: headers(json: Self.token),
                body: ByteBuffer(string: #"{"decision":"ignore","by":"Cy","note":"known flaky disk"}"#)
            ) { response in
                #expect(response.status == .ok)
                let decided = try JSONDecoder().decode(LedgerJSON.Break.self, from: Data(String(buffer: response.body).utf8))
                #expect(decided.id == record.id)
                #expect(decided.decision == "ignore")
                #expect(decided.decided_by == "Cy")
                #expect(decided.note == "known flaky disk")
                #expect(decided.decided_at != nil)
            }
            #expect(server.decisions.all.map(\.decision) == ["ignore"])
            #expect(try await ledger(server.client).status == "broken_declared")
            // The second decision, by JSON, is refused with who decided what.
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: headers(json: Self.token),
                body: ByteBuffer(string: #"{"decision":"validate","by":"Dee"}"#)
            ) { response in
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("ignore by Cy"))
            }
        }
    }

    @Test func badFieldsAre400NamingTheFieldAndUnknownBreakIs404() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            let cases: [(String, String)] = [
                (#"{"decision":"approve","by":"Ann"}"#, "`decision`"),
                (#"{"by":"Ann"}"#, "`decision`"),
                (#"{"decision":"validate"}"#, "`by`"),
                (#"{"decision":"validate","by":"   "}"#, "`by`"),
            ]
            for (body, field) in cases {
                try await server.client.execute(
                    uri: "/breaks/\(record.id)/resolve", method: .post, headers: headers(json: Self.token), body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    #expect(String(buffer: response.body).contains(field), "\(body)")
                }
            }
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: Self.formHeaders,
                body: form([("decision", "maybe"), ("by", "Ann"), ("token", Self.token)])
            ) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body).contains("`decision`"))
            }
            try await server.client.execute(
                uri: "/breaks/999/resolve", method: .post, headers: headers(json: Self.token),
                body: ByteBuffer(string: #"{"decision":"validate","by":"Ann"}"#)
            ) { response in
                #expect(response.status == .notFound)
            }
            try await server.client.execute(
                uri: "/breaks/abc/resolve", method: .post, headers: headers(json: Self.token),
                body: ByteBuffer(string: #"{"decision":"validate","by":"Ann"}"#)
            ) { response in
                #expect(response.status == .badRequest)
            }
            #expect(try await server.store.ledgerBreak(record.id)?.decision == nil)
            #expect(server.decisions.all.isEmpty)
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            let note = String(repeating: "n", count: 70 * 1024)
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: Self.formHeaders,
                body: form([("decision", "validate"), ("by", "Ann"), ("note", note), ("token", Self.token)])
            ) { response in
                #expect(response.status == .contentTooLarge)
            }
            #expect(try await server.store.ledgerBreak(record.id)?.decision == nil)
        }
    }

    // MARK: The JSON API

    @Test func ledgerStatusGoesFromPendingToValidWhenTheBreakIsValidated() async throws {
        try await withServer { server in
            try await server.client.execute(uri: "/api/ledger", method: .get) { response in
                let empty = try JSONDecoder().decode(LedgerJSON.self, from: Data(String(buffer: response.body).utf8))
                #expect(empty.status == "valid" && empty.events == 0 && empty.breaks.isEmpty)
            }
            let record = try await breakAtFirstEvent(server, message: "seq 1 <hash> & more")
            let before = try await ledger(server.client)
            #expect(before.status == "break_pending")
            #expect(before.events == 2)
            let listed = try #require(before.breaks.first)
            #expect(listed.id == record.id && listed.seq == 1 && listed.kind == "hash_mismatch")
            #expect(listed.expected == "9f86d081" && listed.found == "60303ae2" && listed.message == "seq 1 <hash> & more")
            #expect(listed.detected_at == Timestamp.text(record.detectedAt) && listed.deadline == Timestamp.text(record.deadline))
            #expect(listed.decision == nil && listed.decided_by == nil && !listed.timed_out)
            // Every key is present, null when absent.
            try await server.client.execute(uri: "/api/ledger", method: .get) { response in
                #expect(String(buffer: response.body).contains(#""decided_by" : null"#))
            }
            try await server.client.execute(
                uri: "/breaks/\(record.id)/resolve", method: .post, headers: headers(json: Self.token),
                body: ByteBuffer(string: #"{"decision":"validate","by":"Ann"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
            let after = try await ledger(server.client)
            #expect(after.status == "valid")
            #expect(after.events == 3)
            #expect(after.breaks.first?.decided_by == "Ann")
        }
    }

    @Test func undecidedPastItsDeadlineIsTimedOutAndBrokenDeclared() async throws {
        try await withServer { server in
            let record = try await breakAtFirstEvent(server)
            server.clock.advance(by: LedgerPolicy.defaultDecisionWindow + 1)
            let report = try await ledger(server.client)
            #expect(report.status == "broken_declared")
            #expect(report.breaks.first?.timed_out == true)
            try await server.client.execute(uri: "/breaks/\(record.id)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("passed 0 min ago") || page.contains("passed under a minute ago"))
                #expect(page.contains("broken_declared"))
            }
        }
    }
}
