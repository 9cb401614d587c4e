public import AsyncHTTPClient
import Foundation
import KeelCore

/// Sends alerts to a Slack channel through an incoming webhook.
///
/// The document has a plain `text` (what notifications show) and Block Kit `blocks`: a header,
/// the body, the fields and the link. Slack answers `ok`, or a status with a short reason such as
/// `invalid_payload` (400) or `no_service` (404, a revoked webhook), which the error quotes. The
/// webhook URL is a secret: errors name only its host.
///
/// ```swift
/// let slack = SlackWebhookChannel(url: "https://hooks.slack.com/services/T0/B0/XXXX", httpClient: client)
/// try await slack.send(alert)
/// ```
public struct SlackWebhookChannel: AlertChannel {
    /// The name shown in results and logs.
    public let name: String
    private let url: String
    private let delivery: HTTPDelivery

    /// Creates a channel.
    ///
    /// - Parameters:
    ///   - url: The incoming webhook URL Slack gave.
    ///   - httpClient: A client the caller owns and shuts down.
    ///   - timeout: How long one request may take.
    ///   - name: The name shown in results, when several Slack channels are configured.
    public init(url: String, httpClient: HTTPClient, timeout: Duration = .seconds(10), name: String = "slack") {
        self.name = name
        self.url = url
        let path = URL(string: url)?.path ?? ""
        self.delivery = HTTPDelivery(
            client: httpClient,
            timeout: timeout,
            channel: name,
            endpoint: "the incoming webhook at \(HTTPDelivery.origin(of: url))",
            redactor: SecretRedactor(secrets: [url, path.count > 1 ? path : ""])
        )
    }

    /// Posts the alert; throws an ``AlertError`` quoting Slack's reason when it is refused.
    public func send(_ alert: Alert) async throws {
        let answer = try await delivery.post(url: url, json: Self.document(for: alert).serialized)
        if answer.isSuccess { return }
        let reason = answer.body.trimmingCharacters(in: .whitespacesAndNewlines)
        let hint: String
        switch reason {
        case "invalid_payload", "no_text", "too_many_attachments", "invalid_blocks", "invalid_blocks_format":
            hint = "Slack could not read the message Keel sent; please report this with the alert's text"
        case "no_service", "no_service_id", "no_team", "team_disabled", "invalid_token":
            hint = "the webhook was revoked or the URL is wrong: create a new incoming webhook and update keel.yml"
        case "channel_not_found", "channel_is_archived", "action_prohibited", "posting_to_general_channel_denied",
            "user_not_found":
            hint = "the webhook's Slack channel is gone or closed to it: point the webhook at another channel"
        default:
            hint =
                answer.status == 429 || answer.status >= 500
                ? "Slack is limiting or having trouble; a retry should pass" : "check the webhook URL in keel.yml"
        }
        let errorClass = HTTPDelivery.errorClass(forStatus: answer.status, retryAfter: answer.retryAfterHeader)
        throw AlertError(
            code: .rejected(status: answer.status),
            message: delivery.redactor(
                "\(name): Slack refused the message (HTTP \(answer.status): \(answer.bodySnippet)); \(hint)"
            ),
            errorClass: errorClass,
            retryAfter: errorClass == .wait ? answer.retryAfterHeader : nil
        )
    }

    /// The webhook document: `text` for notifications and `blocks` for the message itself.
    static func document(for alert: Alert) -> JSONText {
        let marker =
            switch alert.severity {
            case .critical: ":rotating_light:"
            case .warning: ":warning:"
            case .info: ":information_source:"
            }
        var fallback = "\(marker) \(escape(alert.title))"
        if let link = alert.link { fallback += " <\(escape(link))|Open in Keel>" }

        var blocks: [JSONText] = [
            .object([
                ("type", .string("header")),
                ("text", .object([("type", .string("plain_text")), ("text", .string(clip(alert.title, to: 150)))])),
            ])
        ]
        let body = alert.body.trimmingCharacters(in: .whitespacesAndNewlines)
        if !body.isEmpty { blocks.append(section(escape(clip(body, to: 2900)))) }
        if !alert.fields.isEmpty {
            // A section holds at most 10 fields.
            let fields = alert.fields.prefix(10).map { field in
                JSONText.object([
                    ("type", .string("mrkdwn")),
                    ("text", .string("*\(escape(clip(field.key, to: 100)))*\n\(escape(clip(field.value, to: 1800)))")),
                ])
            }
            blocks.append(.object([("type", .string("section")), ("fields", .array(fields))]))
        }
        if let link = alert.link {
            blocks.append(section("<\(escape(link))|Open in Keel>"))
        }
        return .object([("text", .string(fallback)), ("blocks", .array(blocks))])
    }

    private static func section(_ mrkdwn: String) -> JSONText {
        .object([("type", .string("section")), ("text", .object([("type", .string("mrkdwn")), ("text", .string(mrkdwn))]))])
    }

    /// Slack's mrkdwn reserves `&`, `<` and `>`.
    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    private static func clip(_ text: String, to limit: Int) -> String {
        text.count > limit ? text.prefix(limit - 1) + "…" : text
    }
}
