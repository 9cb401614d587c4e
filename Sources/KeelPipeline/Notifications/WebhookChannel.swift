public import AsyncHTTPClient
import Crypto
import Foundation
public import KeelCore

/// Posts alerts as JSON to any HTTP endpoint, optionally signed.
///
/// The document:
/// ```json
/// {"event": "chain_break_detected", "id": "…", "severity": "critical", "title": "…", "body": "…",
///  "link": "https://keel.example.com/breaks/7", "fields": {"break": "7"}, "sent_at": "2026-03-01T10:00:00Z"}
/// ```
/// With a secret, the request carries `X-Keel-Signature: sha256=<hex HMAC-SHA256(secret, body)>`
/// over the exact body bytes; a receiver recomputes it and compares in constant time. `id` (also
/// in `X-Keel-Delivery`) is the same on a retry, so a receiver can drop duplicates. Any 2xx is
/// success.
///
/// ```swift
/// let hook = WebhookChannel(url: "https://ops.example.com/keel", secret: secret, httpClient: client)
/// try await hook.send(alert)
/// ```
public struct WebhookChannel: AlertChannel {
    /// The name shown in results and logs.
    public let name: String
    private let url: String
    private let secret: String?
    private let clock: any WallClock
    private let delivery: HTTPDelivery

    /// Creates a channel.
    ///
    /// - Parameters:
    ///   - url: Where to post. Only its scheme, host and port appear in errors.
    ///   - secret: The HMAC key for `X-Keel-Signature`; no header when nil.
    ///   - httpClient: A client the caller owns and shuts down.
    ///   - timeout: How long one request may take.
    ///   - clock: The source of `sent_at`.
    ///   - name: The name shown in results, when several webhooks are configured.
    public init(
        url: String,
        secret: String? = nil,
        httpClient: HTTPClient,
        timeout: Duration = .seconds(10),
        clock: any WallClock = SystemWallClock(),
        name: String = "webhook"
    ) {
        self.name = name
        self.url = url
        self.secret = secret
        self.clock = clock
        let parsed = URL(string: url)
        let pathAndQuery = [parsed?.path ?? "", parsed?.query ?? ""].filter { $0.count > 1 }
        self.delivery = HTTPDelivery(
            client: httpClient,
            timeout: timeout,
            channel: name,
            endpoint: HTTPDelivery.origin(of: url),
            // The secret itself never travels (only the HMAC does), so only the URL is scrubbed.
            redactor: SecretRedactor(secrets: [url] + pathAndQuery)
        )
    }

    /// Posts the alert; throws an ``AlertError`` when the endpoint answers other than 2xx.
    public func send(_ alert: Alert) async throws {
        let body = Self.document(for: alert, sentAt: clock.now()).serialized
        var headers = [("X-Keel-Event", alert.event), ("X-Keel-Delivery", alert.id)]
        if let secret {
            headers.append(("X-Keel-Signature", Self.signature(of: body, secret: secret)))
        }
        let answer = try await delivery.post(url: url, json: body, headers: headers)
        if answer.isSuccess { return }
        let errorClass = HTTPDelivery.errorClass(forStatus: answer.status, retryAfter: answer.retryAfterHeader)
        let hint =
            switch answer.status {
            case 401, 403: "the endpoint refused Keel's credentials: check the webhook secret on both sides"
            case 404, 405, 410: "check the webhook URL in keel.yml"
            case 408, 425, 429, 500...599: "the endpoint is busy or failing; a retry should pass"
            default: "check what the endpoint expects"
            }
        throw AlertError(
            code: .rejected(status: answer.status),
            message: delivery.redactor(
                "\(name): \(delivery.endpoint) refused the alert (HTTP \(answer.status): \(answer.bodySnippet)); \(hint)"
            ),
            errorClass: errorClass,
            retryAfter: errorClass == .wait ? answer.retryAfterHeader : nil
        )
    }

    /// `sha256=` and the hex HMAC-SHA256 of the body under the secret.
    static func signature(of body: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    static func document(for alert: Alert, sentAt: Date) -> JSONText {
        // A JSON object cannot repeat a key: values of a repeated field are joined, in order.
        var keys: [String] = []
        var values: [String: String] = [:]
        for field in alert.fields {
            if let earlier = values[field.key] {
                values[field.key] = earlier + ", " + field.value
            } else {
                keys.append(field.key)
                values[field.key] = field.value
            }
        }
        return .object([
            ("event", .string(alert.event)),
            ("id", .string(alert.id)),
            ("severity", .string(alert.severity.rawValue)),
            ("title", .string(alert.title)),
            ("body", .string(alert.body)),
            ("link", alert.link.map { .string($0) } ?? .null),
            ("fields", .object(keys.map { ($0, .string(values[$0] ?? "")) })),
            ("sent_at", .string(sentAt.formatted(.iso8601))),
        ])
    }
}
