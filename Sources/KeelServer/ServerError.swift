import Hummingbird

/// Why the server refused a request: what went wrong, what to do, and the HTTP status that says so.
struct ServerError: Error, Sendable, CustomStringConvertible {
    /// The kind of refusal; each maps to one HTTP status. New codes may be added.
    struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The HTTP status a response with this code carries.
        let status: HTTPResponse.Status
        /// A heading for the refusal's page.
        let title: String
        var description: String { name }

        /// A path parameter or body field that does not parse.
        static let invalidRequest = Code(name: "invalid_request", status: .badRequest, title: "Bad request")
        /// No admin token was presented, or the wrong one.
        static let unauthorized = Code(name: "unauthorized", status: .unauthorized, title: "Admin token required")
        /// The server has no admin token configured, so nothing state-changing is allowed.
        static let adminTokenNotConfigured = Code(name: "admin_token_not_configured", status: .forbidden, title: "Decisions are disabled")
        /// No break with that id, or no ledger on this server.
        static let notFound = Code(name: "not_found", status: .notFound, title: "Not found")
        /// The break already carries a decision.
        static let alreadyDecided = Code(name: "already_decided", status: .conflict, title: "Already decided")
        /// The request body is over the limit.
        static let bodyTooLarge = Code(name: "body_too_large", status: .contentTooLarge, title: "Request too large")
        /// A body that is neither a form nor JSON.
        static let unsupportedMediaType = Code(name: "unsupported_media_type", status: .unsupportedMediaType, title: "Unsupported body")
        /// The store cannot serve the request (no ledger key, database unavailable).
        static let unavailable = Code(name: "unavailable", status: .serviceUnavailable, title: "Ledger unavailable")
    }

    var code: Code
    /// A message for the person reading the response: what is wrong and what to do.
    var message: String
    var underlying: (any Error)?

    init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    var description: String {
        if let underlying { return "\(message) (\(underlying))" }
        return message
    }
}
