import Foundation
import Hummingbird
import KeelCore
import KeelPipeline
import KeelStore
import NIOCore

/// The audit ledger over HTTP: `GET /api/ledger`, a break's page, and a person's decision on it.
struct LedgerRoutes: Sendable {
    var ledger: (any LedgerStore)?
    var adminToken: AdminToken?
    var clock: any WallClock
    var onDecision: @Sendable (LedgerBreakRecord) async -> Void

    /// Request bodies larger than this are refused (413): a decision is a few short fields.
    static let maxBodyBytes = 64 * 1024

    func add(to router: Router<BasicRequestContext>) {
        router.get("/api/ledger") { _, _ -> Response in
            do {
                return try KeelHTTP.json(Reports.json(try await report()))
            } catch {
                return try Self.jsonRefusal(Self.refusal(for: error))
            }
        }
        router.get("/breaks/{id}") { _, context -> Response in
            do {
                return KeelHTTP.html(try await page(id: context.parameters.get("id")))
            } catch {
                let refusal = Self.refusal(for: error)
                return KeelHTTP.html(BreakPage.refusal(refusal, breakID: nil), status: refusal.code.status)
            }
        }
        router.post("/breaks/{id}/resolve") { request, context -> Response in
            let format = Self.format(of: request)
            let id = context.parameters.get("id", as: Int64.self)
            do {
                return try await resolve(id: context.parameters.get("id"), request: request, format: format)
            } catch {
                let refusal = Self.refusal(for: error)
                switch format {
                case .form: return KeelHTTP.html(BreakPage.refusal(refusal, breakID: id), status: refusal.code.status)
                case .json: return try Self.jsonRefusal(refusal)
                }
            }
        }
    }

    // MARK: Handlers

    func report() async throws -> LedgerReport {
        let ledger = try requireLedger()
        let now = clock.now()
        return LedgerReport(
            status: try await ledger.ledgerStatus(now: now), events: try await ledger.ledgerCount(),
            breaks: try await ledger.ledgerBreaks().map { BreakSummary($0, now: now) })
    }

    func page(id raw: String?) async throws -> String {
        let id = try Self.breakID(raw)
        let ledger = try requireLedger()
        guard let record = try await ledger.ledgerBreak(id) else { throw Self.unknownBreak(id) }
        return BreakPage(
            record: record, eventAtSeq: try await event(at: record.seq), detectionStamp: try await event(at: record.detectionSeq),
            acceptsDecisions: adminToken != nil, now: clock.now()
        ).html()
    }

    func resolve(id raw: String?, request: Request, format: DecisionRequest.Format) async throws -> Response {
        let id = try Self.breakID(raw)
        let ledger = try requireLedger()
        guard let adminToken else {
            throw ServerError(
                .adminTokenNotConfigured,
                "this server has no admin token, so it records no decisions: set the environment variable named by "
                    + "server.admin_token_env in keel.yml (default KEEL_ADMIN_TOKEN) and restart `keel run`, "
                    + "or decide with `keel ledger resolve \(id) --decision validate|ignore|reject --by NAME`")
        }
        // A bearer token is checked before the body is read; otherwise the form's `token` field is.
        // Either way the value is only compared, never kept, logged or shown.
        let bearer = AdminToken.bearer(request.headers[.authorization])
        if let bearer, !adminToken.matches(bearer) { throw Self.wrongToken }
        let fields = try DecisionRequest.Fields.parse(try await Self.body(of: request), as: format)
        if bearer == nil {
            guard let presented = fields.formToken, !presented.isEmpty else {
                throw ServerError(.unauthorized, "an admin token is required: send `Authorization: Bearer TOKEN` or the form field `token`")
            }
            guard adminToken.matches(presented) else { throw Self.wrongToken }
        }
        let decision = try fields.validated()
        guard let existing = try await ledger.ledgerBreak(id) else { throw Self.unknownBreak(id) }
        if existing.decision != nil { throw Self.alreadyDecided(existing) }
        let record: LedgerBreakRecord
        do {
            record = try await ledger.resolveBreak(id, decision: decision.decision, by: decision.by, note: decision.note, now: clock.now())
        } catch let error as StoreError where error.code == .invalidDecision {
            // Another person (or process) decided between the check above and the write.
            if let current = try await ledger.ledgerBreak(id), current.decision != nil { throw Self.alreadyDecided(current) }
            throw ServerError(.invalidRequest, error.message, underlying: error)
        }
        await onDecision(record)
        switch format {
        case .form:
            return Response(status: .seeOther, headers: [.location: "/breaks/\(id)", .cacheControl: "no-store"])
        case .json:
            return KeelHTTP.json(try Reports.json(BreakSummary(record, now: clock.now())))
        }
    }

    // MARK: Pieces

    private func event(at seq: Int64?) async throws -> LedgerEventRecord? {
        guard let seq, let ledger, seq > 0 else { return nil }
        return try await ledger.ledgerEvents(after: seq - 1, limit: 1).first { $0.seq == seq }
    }

    private func requireLedger() throws(ServerError) -> any LedgerStore {
        guard let ledger else {
            throw ServerError(.notFound, "this server keeps no audit ledger: configure the ledger in keel.yml and restart `keel run`")
        }
        return ledger
    }

    private static func breakID(_ raw: String?) throws(ServerError) -> Int64 {
        guard let raw, let id = Int64(raw) else {
            throw ServerError(.invalidRequest, "a break id is an integer, as `keel ledger status` lists them")
        }
        return id
    }

    private static let wrongToken = ServerError(
        .unauthorized, "the admin token is wrong: use the value of the environment variable named by server.admin_token_env")

    private static func unknownBreak(_ id: Int64) -> ServerError {
        ServerError(.notFound, "no break #\(id): `keel ledger status` lists the breaks")
    }

    private static func alreadyDecided(_ record: LedgerBreakRecord) -> ServerError {
        let when = record.decidedAt.map { " at \(Timestamp.text($0))" } ?? ""
        return ServerError(
            .alreadyDecided,
            "break #\(record.id) was already decided: \(record.decision ?? "?") by \(record.decidedBy ?? "?")\(when); a break takes one decision")
    }

    /// A form post from the page is answered with pages; anything else is treated as a JSON client.
    static func format(of request: Request) -> DecisionRequest.Format {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        return type.hasPrefix("application/x-www-form-urlencoded") ? .form : .json
    }

    private static func body(of request: Request) async throws -> [UInt8] {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") || type.hasPrefix("application/json") else {
            throw ServerError(
                .unsupportedMediaType, "send the decision as application/x-www-form-urlencoded (the page's form) or application/json")
        }
        let tooLarge = ServerError(.bodyTooLarge, "the request body is over \(maxBodyBytes / 1024) KiB: a decision is a few short fields")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBodyBytes { throw tooLarge }
        do {
            let buffer = try await request.body.collect(upTo: maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
    }

    static func refusal(for error: any Error) -> ServerError {
        switch error {
        case let error as ServerError: return error
        case let error as StoreError where error.code == .breakNotFound: return ServerError(.notFound, error.message, underlying: error)
        case let error as StoreError where error.code == .invalidDecision: return ServerError(.invalidRequest, error.message, underlying: error)
        default: return ServerError(.unavailable, "the ledger cannot be read right now: \(error)", underlying: error)
        }
    }

    private static func jsonRefusal(_ error: ServerError) throws -> Response {
        KeelHTTP.json(try Reports.json(["error": error.message, "code": error.code.description]), status: error.code.status)
    }
}
