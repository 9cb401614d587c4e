public import Hummingbird
import Foundation
public import KeelCore
public import KeelStore
import KeelPipeline
import NIOCore

/// The HTTP surface of `keel run`: health, the item API, Prometheus metrics and the audit ledger.
/// Every state-changing endpoint needs the admin token.
public enum KeelHTTP {
    /// The router with every route; `keel run` serves it and tests drive it with HummingbirdTesting.
    ///
    /// - Parameters:
    ///   - store: the work items, for health, `/api/items` and `/metrics`.
    ///   - ledger: the audit ledger, for `/api/ledger`, `/breaks/{id}` and decisions; without it those answer 404.
    ///   - adminToken: the secret a decision must present (`Authorization: Bearer` or the page's form);
    ///     nil or empty refuses every decision with 403.
    ///   - clock: the time for deadlines, statuses and decision stamps.
    ///   - onDecision: called once with each break a person has just decided, before the response is sent
    ///     (`keel run` backs up the ledger there).
    ///
    /// ```swift
    /// let store = try SQLiteStore(path: ".keel/keel.sqlite", ledger: settings)
    /// let token = ProcessInfo.processInfo.environment["KEEL_ADMIN_TOKEN"]
    /// let router = KeelHTTP.router(store: store, ledger: store, adminToken: token) { record in
    ///     logger.notice("break \(record.id) decided: \(record.decision ?? "?") by \(record.decidedBy ?? "?")")
    /// }
    /// ```
    public static func router(
        store: any Store,
        ledger: (any LedgerStore)? = nil,
        adminToken: String? = nil,
        clock: any WallClock = SystemWallClock(),
        onDecision: @escaping @Sendable (LedgerBreakRecord) async -> Void = { _ in }
    ) -> Router<BasicRequestContext> {
        let router = Router()
        LedgerRoutes(ledger: ledger, adminToken: AdminToken(adminToken), clock: clock, onDecision: onDecision).add(to: router)
        router.get("/healthz") { _, _ -> Response in
            do {
                _ = try await store.metrics()
                return text("ok\n")
            } catch {
                return text("store unavailable: \(error)\n", status: .serviceUnavailable)
            }
        }
        router.get("/api/items") { _, _ -> Response in
            struct Items: Encodable { var items: [ItemSummary] }
            return try json(Reports.json(Items(items: try await Reports.summaries(store: store))))
        }
        router.get("/api/items/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return try json(Reports.json(["error": "item id must be an integer"]), status: .badRequest)
            }
            guard let detail = try await Reports.detail(id, store: store) else {
                return try json(Reports.json(["error": "no item #\(id)"]), status: .notFound)
            }
            return try json(Reports.json(detail))
        }
        router.get("/items/{id}") { _, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self), let detail = try await Reports.detail(id, store: store) else {
                return html(HTML.page(title: "Not found", body: "<h1>No such item</h1>\n<p>`keel status` lists the items.</p>"), status: .notFound)
            }
            return html(ItemPage(detail: detail).html())
        }
        router.get("/metrics") { _, _ -> Response in
            let m = try await store.metrics()
            return text(prometheus(m), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        return router
    }

    /// The Prometheus text exposition of the store's counters.
    public static func prometheus(_ m: StoreMetrics) -> String {
        var out = "# HELP keel_items Work items by state.\n# TYPE keel_items gauge\n"
        for state in ItemState.allCases {
            out += "keel_items{state=\"\(state.rawValue)\"} \(m.itemsByState[state] ?? 0)\n"
        }
        out += "# HELP keel_state_transitions_total State transitions written.\n# TYPE keel_state_transitions_total counter\n"
        out += "keel_state_transitions_total \(m.transitions)\n"
        out += "# HELP keel_agent_runs_total Agent invocations by outcome.\n# TYPE keel_agent_runs_total counter\n"
        for (outcome, n) in m.agentRunsByOutcome.sorted(by: { $0.key < $1.key }) {
            out += "keel_agent_runs_total{outcome=\"\(outcome)\"} \(n)\n"
        }
        out += "# HELP keel_cost_micros_total Agent spend in micro-USD.\n# TYPE keel_cost_micros_total counter\n"
        out += "keel_cost_micros_total \(m.costMicros)\n"
        out += "# HELP keel_agent_seconds_total Wall-clock seconds spent in agent runs.\n# TYPE keel_agent_seconds_total counter\n"
        out += "keel_agent_seconds_total \(String(format: "%.3f", m.agentSeconds))\n"
        return out
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(
            status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        var response = text(body, status: status, contentType: "text/html; charset=utf-8")
        // Break messages come from whatever was in the ledger: no scripts, no outside assets, no framing.
        response.headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.cacheControl] = "no-store"
        return response
    }

    static func json(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        text(body + "\n", status: status, contentType: "application/json")
    }
}
