public import AsyncHTTPClient
import Foundation
import KeelCore

/// Sends alerts to a Telegram chat through the Bot API's `sendMessage`.
///
/// The message is HTML (`parse_mode: HTML`) with the title in bold, the body, the fields and the
/// link; link previews are off. The bot token is part of the request path, so it is kept out of
/// every error message and cause this channel produces.
///
/// ```swift
/// let telegram = TelegramChannel(botToken: token, chatID: "-1001234567890", httpClient: client)
/// try await telegram.send(alert)
/// ```
public struct TelegramChannel: AlertChannel {
    /// The name shown in results and logs.
    public let name: String
    private let botToken: String
    private let chatID: String
    private let apiBase: String
    private let delivery: HTTPDelivery

    /// Creates a channel.
    ///
    /// - Parameters:
    ///   - botToken: The token BotFather gave the bot.
    ///   - chatID: A chat id (`-100…` for groups and channels) or `@channelusername`.
    ///   - apiBase: The Bot API server; tests and self-hosted Bot API servers change it.
    ///   - httpClient: A client the caller owns and shuts down.
    ///   - timeout: How long one request may take.
    ///   - name: The name shown in results, when several Telegram channels are configured.
    public init(
        botToken: String,
        chatID: String,
        apiBase: String = "https://api.telegram.org",
        httpClient: HTTPClient,
        timeout: Duration = .seconds(10),
        name: String = "telegram"
    ) {
        self.name = name
        self.botToken = botToken
        self.chatID = chatID
        let base = apiBase.hasSuffix("/") ? String(apiBase.dropLast()) : apiBase
        self.apiBase = base
        self.delivery = HTTPDelivery(
            client: httpClient,
            timeout: timeout,
            channel: name,
            endpoint: "\(base)/bot<token>/sendMessage",
            redactor: SecretRedactor(secrets: botToken.isEmpty ? [] : [botToken])
        )
    }

    /// Posts the alert with `sendMessage`; throws an ``AlertError`` when the Bot API refuses it.
    public func send(_ alert: Alert) async throws {
        let document = JSONText.object([
            ("chat_id", .string(chatID)),
            ("text", .string(Self.html(for: alert))),
            ("parse_mode", .string("HTML")),
            ("disable_web_page_preview", .bool(true)),
        ])
        let answer = try await delivery.post(url: "\(apiBase)/bot\(botToken)/sendMessage", json: document.serialized)
        if let error = error(for: answer) { throw error }
    }

    /// The Bot API's answer: `{"ok": true, "result": …}` or
    /// `{"ok": false, "error_code": 429, "description": "…", "parameters": {"retry_after": 5}}`.
    private struct BotAPIAnswer: Decodable {
        struct Parameters: Decodable {
            var retry_after: Int?
            var migrate_to_chat_id: Int64?
        }
        var ok: Bool
        var error_code: Int?
        var description: String?
        var parameters: Parameters?
    }

    private func error(for answer: HTTPAnswer) -> AlertError? {
        let redact = delivery.redactor
        guard let reply = try? JSONDecoder().decode(BotAPIAnswer.self, from: Data(answer.body.utf8)) else {
            if answer.isSuccess {
                return AlertError(
                    code: .protocolViolation,
                    message: redact(
                        "\(name): \(delivery.endpoint) answered HTTP \(answer.status) with \(answer.bodySnippet), not a Bot API response; check apiBase"
                    ),
                    errorClass: .permanent
                )
            }
            let errorClass = HTTPDelivery.errorClass(forStatus: answer.status, retryAfter: answer.retryAfterHeader)
            return AlertError(
                code: .rejected(status: answer.status),
                message: redact(
                    "\(name): \(delivery.endpoint) answered HTTP \(answer.status) with \(answer.bodySnippet); check apiBase and that the Bot API is reachable"
                ),
                errorClass: errorClass,
                retryAfter: errorClass == .wait ? answer.retryAfterHeader : nil
            )
        }
        if reply.ok && answer.isSuccess { return nil }

        let status = reply.error_code ?? answer.status
        let retryAfter = reply.parameters?.retry_after.map { Duration.seconds(max(0, $0)) } ?? answer.retryAfterHeader
        let errorClass = HTTPDelivery.errorClass(forStatus: status, retryAfter: retryAfter)
        let said = reply.description ?? "no description"
        let hint: String
        if let newChat = reply.parameters?.migrate_to_chat_id {
            hint = "the group became a supergroup: set chat_id to \(newChat)"
        } else {
            switch status {
            case 401, 404: hint = "check the bot token BotFather gave, and apiBase"
            case 403: hint = "the bot was blocked or removed: add it to chat \(chatID) again (a user must /start it first)"
            case 429: hint = "Telegram's flood control: send less often"
            case 400: hint = "check chat_id \(chatID) and that the bot is a member of that chat"
            case 500...599: hint = "Telegram is having trouble; a retry should pass"
            default: hint = "see Telegram's description above"
            }
        }
        let wait = retryAfter.map { "; retry after \($0.components.seconds) s" } ?? ""
        return AlertError(
            code: .rejected(status: status),
            message: redact("\(name): the Bot API refused sendMessage (\(status): \(said))\(wait); \(hint)"),
            errorClass: errorClass,
            retryAfter: errorClass == .wait ? retryAfter : nil
        )
    }

    /// The alert as Bot API HTML: only `<`, `>` and `&` need escaping (and `"` inside `href`).
    static func html(for alert: Alert) -> String {
        let marker =
            switch alert.severity {
            case .critical: "🚨"
            case .warning: "⚠️"
            case .info: "ℹ️"
            }
        var lines = ["\(marker) <b>\(escape(clip(alert.title, to: 256)))</b>"]
        let body = alert.body.trimmingCharacters(in: .whitespacesAndNewlines)
        if !body.isEmpty { lines += ["", escape(clip(body, to: 3000))] }
        if !alert.fields.isEmpty {
            lines.append("")
            for field in alert.fields.prefix(20) {
                lines.append("<b>\(escape(clip(field.key, to: 64)))</b>: \(escape(clip(field.value, to: 200)))")
            }
        }
        if let link = alert.link {
            let shown = escape(link)
            lines += ["", "<a href=\"\(shown.replacingOccurrences(of: "\"", with: "&quot;"))\">\(shown)</a>"]
        }
        return lines.joined(separator: "\n")
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Telegram caps a message at 4096 characters; keep each part well inside it.
    private static func clip(_ text: String, to limit: Int) -> String {
        text.count > limit ? text.prefix(limit - 1) + "…" : text
    }
}
