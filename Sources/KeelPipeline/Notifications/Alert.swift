public import Foundation

/// Something a person has to look at: a chain break, an item in `needs_human`.
///
/// Every channel renders the same alert in its own format; `link` is the direct URL of the
/// page where the person acts (the break's page, the item's page), so each message carries it.
///
/// ```swift
/// let alert = Alert(
///     event: "chain_break_detected",
///     title: "Ledger chain break at seq 1042",
///     body: "previous_hash does not match the head.",
///     link: "https://keel.example.com/breaks/7",
///     severity: .critical,
///     fields: [("break", "7"), ("deadline", "2026-03-04T10:00:00Z")]
/// )
/// ```
public struct Alert: Sendable {
    /// How urgently a person should look.
    public enum Severity: String, Sendable, CaseIterable {
        /// For the record; nothing to do.
        case info
        /// A person should look soon: an item waits in `needs_human`.
        case warning
        /// A person must decide before a deadline: a ledger break.
        case critical
    }

    /// A stable identifier, sent with the alert so a receiver can drop a duplicate delivered
    /// by a retry.
    public var id: String
    /// The kind of event, e.g. `chain_break_detected` or `needs_human`.
    public var event: String
    /// One line saying what happened.
    public var title: String
    /// What happened and what to decide, as plain text (channels escape it for their format).
    public var body: String
    /// The direct URL of the page where the person acts, if there is one.
    public var link: String?
    /// How urgent it is.
    public var severity: Severity
    /// The figures, in the order they should be shown (duplicate keys are kept).
    public var fields: [(key: String, value: String)]

    /// Creates an alert; `id` defaults to a fresh UUID.
    public init(
        id: String = UUID().uuidString.lowercased(),
        event: String,
        title: String,
        body: String,
        link: String? = nil,
        severity: Severity = .warning,
        fields: [(String, String)] = []
    ) {
        self.id = id
        self.event = event
        self.title = title
        self.body = body
        self.link = link
        self.severity = severity
        self.fields = fields.map { (key: $0.0, value: $0.1) }
    }
}

/// A way to reach a person: a chat, a mailbox, an HTTP endpoint.
///
/// `send` returns once the far end accepted the alert and throws an ``AlertError`` that says
/// whether a retry can help. Implementations are cheap values: the connection resources (an
/// `HTTPClient`, an event loop group) belong to whoever created them.
///
/// ```swift
/// let channel: any AlertChannel = SlackWebhookChannel(url: webhookURL, httpClient: client)
/// try await channel.send(alert)
/// ```
public protocol AlertChannel: Sendable {
    /// A short name for results and logs, e.g. `telegram`; never a secret.
    var name: String { get }
    /// Delivers the alert, or throws an ``AlertError``.
    func send(_ alert: Alert) async throws
}
