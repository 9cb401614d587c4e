import AsyncHTTPClient
import Crypto
import Foundation
import KeelCore
@testable import KeelPipeline
import KeelTestSupport
import NIOCore
import NIOSSL
import Testing

/// A bot token shaped like a real one; it must never surface in an error.
private let botToken = "7000000001:AAH-keelTestTokenNeverShowMe_0123456789"

/// The alert the tests send: a chain break with a link, fields and a body line that starts with a dot.
private func breakAlert(body: String = "previous_hash does not match the head.\n.hidden line starts with a dot\n..two dots") -> Alert {
    Alert(
        id: "6f1c2d3e-0000-4000-8000-000000000001",
        event: "chain_break_detected",
        title: "Ledger chain break at seq 1042 <kind=hash_mismatch>",
        body: body,
        link: "https://keel.example.com/breaks/7",
        severity: .critical,
        fields: [("break", "7"), ("deadline", "2026-03-04T10:00:00Z")]
    )
}

/// The error `send` throws, or nil when it succeeds.
private func sendError(_ channel: any AlertChannel, _ alert: Alert = breakAlert()) async -> AlertError? {
    do {
        try await channel.send(alert)
        return nil
    } catch let error as AlertError {
        return error
    } catch {
        Issue.record("not an AlertError: \(error)")
        return nil
    }
}

private func jsonObject(_ text: String) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
}

/// A self-signed certificate for `localhost` and 127.0.0.1, valid until 2126, and its key:
/// test-only, for the loopback SMTP server's STARTTLS.
private let loopbackCertificatePEM = """
-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUKB/cMk/UxFm56PQxmrKnutoGUecwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMTIwMDYzOVoYDzIxMjYxMDI4
MjAwNjM5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQd9Nk4K9WahVR/K2zThePYqCwC24x6ta/Np8/qr9c0d9DXL7kAEGEB
rl7xb6uiwH3eWBcvHlXIsjqdeQNyt4Q4o28wbTAdBgNVHQ4EFgQUFpYGcQWkTgAl
qeNVbW/YncWNFSYwHwYDVR0jBBgwFoAUFpYGcQWkTgAlqeNVbW/YncWNFSYwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgYCGa4L0yOMIhpfh9h+E7EJZAcoEQLLyuXySXLtdsUI0CIEpc
DSq/ZypNbLVN3KpXej41q8+GF6i/emZv4OSk3GNy
-----END CERTIFICATE-----
"""

private let loopbackKeyPEM = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpaZxr+Pl43sYz4br
ubjGC8gB4NfM1OH/5fB6GfjpQHqhRANCAAQd9Nk4K9WahVR/K2zThePYqCwC24x6
ta/Np8/qr9c0d9DXL7kAEGEBrl7xb6uiwH3eWBcvHlXIsjqdeQNyt4Q4
-----END PRIVATE KEY-----
"""

/// Puts a TLS server handler with the loopback certificate in front of an SMTP connection.
private let loopbackServerTLS: @Sendable (any Channel) throws -> Void = { channel in
    let configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(loopbackCertificatePEM.utf8)).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(loopbackKeyPEM.utf8), format: .pem))
    )
    let context = try NIOSSLContext(configuration: configuration)
    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context), position: .first)
}

/// Millisecond retries, no jitter.
private let fastRetry = AlertDispatcher.RetryPolicy(
    maxAttempts: 3,
    backoff: Backoff(initialSeconds: 0.005, maxSeconds: 0.02, jitter: 0),
    maxWait: .seconds(5)
)

private let telegramOK = #"{"ok":true,"result":{"message_id":42,"date":1790000000,"chat":{"id":-1001234567890,"type":"supergroup"},"text":"x"}}"#

@Suite struct NotificationTests {
    // MARK: - Telegram

    @Test func telegramPostsSendMessageToTheBotPathAsJSON() async throws {
        try await LoopbackHTTPServer.withServer(answering: .json(telegramOK)) { server in
            try await withHTTPClient { client in
                let telegram = TelegramChannel(botToken: botToken, chatID: "-1001234567890", apiBase: server.url, httpClient: client)
                try await telegram.send(breakAlert())
            }
            let request = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(request.method == "POST")
            #expect(request.path == "/bot\(botToken)/sendMessage")
            #expect(request.header("Content-Type")?.hasPrefix("application/json") == true)
            let body = try jsonObject(request.text)
            #expect(body["chat_id"] as? String == "-1001234567890")
            #expect(body["parse_mode"] as? String == "HTML")
            #expect(body["disable_web_page_preview"] as? Bool == true)
            let text = try #require(body["text"] as? String)
            // The title is bold, its angle brackets escaped for Telegram's HTML; the link is there.
            #expect(text.contains("<b>Ledger chain break at seq 1042 &lt;kind=hash_mismatch&gt;</b>"))
            #expect(text.contains(#"<a href="https://keel.example.com/breaks/7">"#))
            #expect(text.contains("<b>deadline</b>: 2026-03-04T10:00:00Z"))
        }
    }

    @Test func telegramFloodControlIsAWaitAndTheDispatcherRetriesAfterIt() async throws {
        let flood = LoopbackHTTPServer.Response.json(
            #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#,
            status: 429
        )
        try await LoopbackHTTPServer.withServer(answering: .json(telegramOK)) { server in
            try await withHTTPClient { client in
                let telegram = TelegramChannel(botToken: botToken, chatID: "42", apiBase: server.url, httpClient: client)

                server.enqueue(flood)
                let error = try #require(await sendError(telegram))
                #expect(error.code == .rejected(status: 429))
                #expect(error.errorClass == .wait)
                #expect(error.isRetryable)
                #expect(error.retryAfter == .seconds(1))
                #expect(error.message.contains("Too Many Requests: retry after 1"))

                server.enqueue(flood)
                let started = ContinuousClock.now
                let deliveries = await AlertDispatcher(channels: [telegram], retry: fastRetry).dispatch(breakAlert())
                let waited = ContinuousClock.now - started
                #expect(deliveries.count == 1)
                #expect(deliveries[0].isDelivered)
                #expect(deliveries[0].attempts == 2)
                // The dispatcher honoured retry_after rather than its millisecond backoff.
                #expect(waited >= .seconds(1))
            }
            #expect(server.requests.count == 3)
        }
    }

    @Test func theDispatcherRedactsEveryAlertTextBeforeAnyChannelSeesIt() async throws {
        let smtpPassword = "smtp-password-in-an-error-0007"
        var alert = breakAlert(body: "the agent said \(FakeCredentials.github) and \(smtpPassword)")
        alert.title = "break near \(FakeCredentials.aws)"
        alert.fields = [(key: "detail", value: FakeCredentials.jwt)]
        try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { hook in
            try await withHTTPClient { client in
                let dispatcher = AlertDispatcher(
                    channels: [WebhookChannel(url: hook.url + "/keel", httpClient: client)], retry: fastRetry,
                    redactor: SecretRedactor(secrets: [smtpPassword]))
                let delivered = await dispatcher.dispatch(alert).map(\.isDelivered)
                #expect(delivered == [true])
            }
            let sent = hook.requests.map(\.text).joined()
            #expect(sent.contains("the agent said [REDACTED] and [REDACTED]"), "\(sent)")
            for secret in [FakeCredentials.github, FakeCredentials.aws, FakeCredentials.jwt, smtpPassword] {
                #expect(!sent.contains(secret), "the webhook received \(secret)")
            }
        }
    }

    @Test func botTokenNeverAppearsInAnError() async throws {
        // A proxy that echoes the request line, Telegram's own refusals, and no server at all.
        let answers: [LoopbackHTTPServer.Response] = [
            .text("<html>502 Bad Gateway: upstream failed for POST /bot\(botToken)/sendMessage</html>", status: 502),
            .json(#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#, status: 401),
            .json(#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#, status: 400),
            .text("<html>hello from the wrong server at /bot\(botToken)/sendMessage</html>", status: 200),
        ]
        var errors: [AlertError] = []
        try await LoopbackHTTPServer.withServer { server in
            try await withHTTPClient { client in
                let telegram = TelegramChannel(botToken: botToken, chatID: "42", apiBase: server.url, httpClient: client)
                for answer in answers {
                    server.enqueue(answer)
                    errors.append(try #require(await sendError(telegram)))
                }
                let refused = TelegramChannel(
                    botToken: botToken,
                    chatID: "42",
                    apiBase: "http://127.0.0.1:\(try await LoopbackPort.refusingConnections())",
                    httpClient: client
                )
                errors.append(try #require(await sendError(refused)))
                let deliveries = await AlertDispatcher(channels: [refused], retry: fastRetry).dispatch(breakAlert())
                errors.append(try #require(deliveries.first?.error))
            }
        }
        #expect(errors.map(\.code) == [.rejected(status: 502), .rejected(status: 401), .rejected(status: 400), .protocolViolation, .unreachable, .unreachable])
        #expect(errors.map(\.errorClass) == [.transient, .permanent, .permanent, .permanent, .transient, .transient])
        #expect(errors[2].message.contains("chat not found"))
        for error in errors {
            let texts = [error.message, String(describing: error), String(reflecting: error), error.cause.map { String(reflecting: $0) } ?? ""]
            for text in texts {
                #expect(!text.contains(botToken), "token leaked: \(text)")
                #expect(!text.contains("AAH-keelTestToken"), "token leaked: \(text)")
            }
        }
    }

    // MARK: - Slack

    @Test func slackPostsFallbackTextAndBlocks() async throws {
        try await LoopbackHTTPServer.withServer(answering: .text("ok")) { server in
            try await withHTTPClient { client in
                let slack = SlackWebhookChannel(url: "\(server.url)/services/T000/B000/XXXXSECRET", httpClient: client)
                try await slack.send(breakAlert())
            }
            let request = try #require(server.requests.first)
            #expect(request.method == "POST")
            #expect(request.path == "/services/T000/B000/XXXXSECRET")
            let body = try jsonObject(request.text)
            let text = try #require(body["text"] as? String)
            #expect(text.contains("Ledger chain break at seq 1042 &lt;kind=hash_mismatch&gt;"))
            #expect(text.contains("<https://keel.example.com/breaks/7|Open in Keel>"))
            let blocks = try #require(body["blocks"] as? [[String: Any]])
            #expect(blocks.first?["type"] as? String == "header")
            let header = try #require(blocks.first?["text"] as? [String: Any])
            #expect(header["text"] as? String == "Ledger chain break at seq 1042 <kind=hash_mismatch>")
            let fields = try #require(blocks.compactMap { $0["fields"] as? [[String: Any]] }.first)
            #expect(fields.compactMap { $0["text"] as? String } == ["*break*\n7", "*deadline*\n2026-03-04T10:00:00Z"])
        }
    }

    @Test func slackRefusalsArePermanentAndQuoteSlacksReason() async throws {
        try await LoopbackHTTPServer.withServer { server in
            try await withHTTPClient { client in
                let secretPath = "/services/T000/B000/XXXXSECRET"
                let slack = SlackWebhookChannel(url: "\(server.url)\(secretPath)", httpClient: client)

                server.enqueue(.text("invalid_payload", status: 400))
                let invalid = try #require(await sendError(slack))
                #expect(invalid.code == .rejected(status: 400))
                #expect(invalid.errorClass == .permanent)
                #expect(invalid.message.contains("invalid_payload"))

                server.enqueue(.text("no_service", status: 404))
                let revoked = try #require(await sendError(slack))
                #expect(revoked.code == .rejected(status: 404))
                #expect(revoked.message.contains("no_service"))
                #expect(revoked.message.contains("revoked"))
                #expect(!revoked.message.contains("XXXXSECRET"))

                server.enqueue(.text("rate_limited", status: 429, headers: [("Retry-After", "2")]))
                let limited = try #require(await sendError(slack))
                #expect(limited.errorClass == .wait)
                #expect(limited.retryAfter == .seconds(2))

                // A permanent refusal is not retried.
                server.enqueue(.text("invalid_payload", status: 400))
                let before = server.requests.count
                let deliveries = await AlertDispatcher(channels: [slack], retry: fastRetry).dispatch(breakAlert())
                #expect(deliveries[0].attempts == 1)
                #expect(deliveries[0].error?.code == .rejected(status: 400))
                #expect(server.requests.count == before + 1)
            }
        }
    }

    // MARK: - Webhook

    @Test func webhookSignatureVerifiesWithTheSharedSecret() async throws {
        let secret = "whsec-keel-test"
        try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { server in
            try await withHTTPClient { client in
                let clock = ManualWallClock(Date(timeIntervalSince1970: 1_790_000_000))
                try await WebhookChannel(url: "\(server.url)/hooks/keel", secret: secret, httpClient: client, clock: clock)
                    .send(breakAlert())
                try await WebhookChannel(url: "\(server.url)/hooks/unsigned", httpClient: client).send(breakAlert())
            }
            let signed = server.requests[0]
            let header = try #require(signed.header("X-Keel-Signature"))
            let mac = HMAC<SHA256>.authenticationCode(for: signed.body, using: SymmetricKey(data: Data(secret.utf8)))
            #expect(header == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())

            let body = try jsonObject(signed.text)
            #expect(body["event"] as? String == "chain_break_detected")
            #expect(body["title"] as? String == "Ledger chain break at seq 1042 <kind=hash_mismatch>")
            #expect(body["link"] as? String == "https://keel.example.com/breaks/7")
            #expect(body["fields"] as? [String: String] == ["break": "7", "deadline": "2026-03-04T10:00:00Z"])
            #expect(body["sent_at"] as? String == "2026-09-21T14:13:20Z")
            #expect(signed.header("X-Keel-Delivery") == breakAlert().id)
            #expect(server.requests[1].header("X-Keel-Signature") == nil)
        }
    }

    // MARK: - Email

    @Test func emailIsDeliveredWithHeadersCRLFAndDotStuffing() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.greeting = ["mx.keel.test ESMTP ready", "no UCE, no relaying"]
        configuration.credentials = .init(username: "keel@example.com", password: "app-password")
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let email = EmailChannel(
                host: "127.0.0.1",
                port: server.port,
                from: "Keel <keel@example.com>",
                to: ["oncall@example.com", "Ops Lead <lead@example.com>"],
                username: "keel@example.com",
                password: "app-password",
                security: .none,
                ehloName: "keel.test",
                clock: ManualWallClock(Date(timeIntervalSince1970: 1_790_000_000))
            )
            try await email.send(breakAlert())

            let message = try #require(server.messages.first)
            #expect(server.messages.count == 1)
            #expect(server.violations.isEmpty)
            #expect(message.authenticatedAs == "keel@example.com")
            #expect(server.commands.contains { $0.hasPrefix("AUTH PLAIN ") })
            #expect(server.commands.first == "EHLO keel.test")
            #expect(server.commands.last == "QUIT")
            #expect(message.from == "keel@example.com")
            #expect(message.recipients == ["oncall@example.com", "lead@example.com"])

            #expect(message.header("From") == "Keel <keel@example.com>")
            #expect(message.header("To") == "oncall@example.com, Ops Lead <lead@example.com>")
            #expect(message.header("Subject") == "[Keel] Ledger chain break at seq 1042 <kind=hash_mismatch>")
            #expect(message.header("Date") == "Mon, 21 Sep 2026 14:13:20 +0000")
            #expect(message.header("Message-ID") == "<keel.\(breakAlert().id)@example.com>")
            #expect(message.header("MIME-Version") == "1.0")
            #expect(message.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(message.header("Content-Transfer-Encoding") == "7bit")

            // Every line ends in CRLF; lines starting with "." crossed the wire doubled and came out whole.
            let raw = String(decoding: message.rawData, as: UTF8.self)
            #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
            #expect(raw.contains("\r\n..hidden line starts with a dot\r\n"))
            #expect(raw.contains("\r\n...two dots\r\n"))
            let lines = message.body.components(separatedBy: "\r\n")
            #expect(lines.contains(".hidden line starts with a dot"))
            #expect(lines.contains("..two dots"))
            #expect(lines.contains("Open: https://keel.example.com/breaks/7"))
            #expect(lines.contains("deadline: 2026-03-04T10:00:00Z"))
        }
    }

    @Test func emailUsesAuthLoginWhenPlainIsNotOffered() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.extensions = ["8BITMIME", "AUTH LOGIN"]
        configuration.credentials = .init(username: "keel", password: "s3cret")
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let email = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["oncall@example.com"],
                username: "keel", password: "s3cret", security: .none
            )
            try await email.send(breakAlert())
            #expect(server.messages.first?.authenticatedAs == "keel")
            #expect(server.commands.contains("AUTH LOGIN"))

            let wrong = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["oncall@example.com"],
                username: "keel", password: "wrong", security: .none
            )
            let error = try #require(await sendError(wrong))
            #expect(error.code == .rejected(status: 535))
            #expect(error.errorClass == .permanent)
            #expect(error.message.contains("AUTH LOGIN"))
            #expect(error.message.contains("535 5.7.8"))
            #expect(!error.message.contains("wrong"))
        }
    }

    @Test func emailRecipientRefusedWith550NamesTheCommandAndQuotesTheServer() async throws {
        let refusal = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table"
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.recipientReplies["nobody@example.com"] = refusal
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let onlyUnknown = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["nobody@example.com"], security: .none
            )
            let error = try #require(await sendError(onlyUnknown))
            #expect(error.code == .rejected(status: 550))
            #expect(error.errorClass == .permanent)
            #expect(error.message.contains("RCPT TO:<nobody@example.com>"))
            #expect(error.message.contains(refusal))
            #expect(server.messages.isEmpty)
            #expect(!server.commands.contains("DATA"))

            // With one good recipient, the message reaches it and the refusal is still reported.
            let mixed = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com",
                to: ["oncall@example.com", "nobody@example.com"], security: .none
            )
            let partial = try #require(await sendError(mixed))
            #expect(partial.errorClass == .permanent)
            #expect(partial.message.contains("delivered to oncall@example.com"))
            #expect(partial.message.contains(refusal))
            #expect(server.messages.map(\.recipients) == [["oncall@example.com"]])
        }
    }

    @Test func emailWithoutEightBitMIMEIsQuotedPrintable() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.extensions = ["SIZE 1000000"]
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let email = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["oncall@example.com"], security: .none
            )
            var alert = breakAlert(body: "Résumé: café = 3 €")
            alert.title = "Brèche dans la chaîne"
            try await email.send(alert)
            let message = try #require(server.messages.first)
            #expect(message.mailParameters.isEmpty)
            #expect(message.header("Content-Transfer-Encoding") == "quoted-printable")
            #expect(message.body.contains("R=C3=A9sum=C3=A9: caf=C3=A9 =3D 3 =E2=82=AC"))
            let subject = try #require(message.header("Subject"))
            #expect(subject.hasPrefix("=?UTF-8?B?"))
            #expect(message.rawData.allSatisfy { $0 < 0x80 })
        }
    }

    @Test func emailEightBitGoesAsIsWhenTheServerTakesIt() async throws {
        try await LoopbackSMTPServer.withServer { server in
            let email = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["oncall@example.com"], security: .none
            )
            try await email.send(breakAlert(body: "Résumé: café"))
            let message = try #require(server.messages.first)
            #expect(message.mailParameters == ["BODY=8BITMIME"])
            #expect(message.header("Content-Transfer-Encoding") == "8bit")
            #expect(message.body.contains("Résumé: café"))
        }
    }

    @Test func emailDeferredByTheServerIsTransient() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.messageReply = "451 4.3.0 Error: queue file write error"
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let email = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["oncall@example.com"], security: .none
            )
            let error = try #require(await sendError(email))
            #expect(error.code == .rejected(status: 451))
            #expect(error.errorClass == .transient)
            #expect(error.message.contains("451 4.3.0 Error: queue file write error"))
        }
    }

    @Test func emailRequiringTLSNeverSendsCredentialsToAServerWithoutSTARTTLS() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.credentials = .init(username: "keel", password: "s3cret")
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let email = EmailChannel(
                host: "127.0.0.1", port: server.port, from: "keel@example.com", to: ["oncall@example.com"],
                username: "keel", password: "s3cret", security: .startTLS
            )
            let error = try #require(await sendError(email))
            #expect(error.code == .misconfigured)
            #expect(error.message.contains("STARTTLS"))
            #expect(!server.commands.contains { $0.hasPrefix("AUTH") })
            #expect(server.messages.isEmpty)
        }
    }

    @Test func emailOverSTARTTLSAuthenticatesOnlyAfterTheHandshake() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.credentials = .init(username: "keel", password: "s3cret")
        configuration.startTLS = loopbackServerTLS
        try await LoopbackSMTPServer.withServer(configuration) { server in
            let email = EmailChannel(
                host: "localhost", port: server.port, from: "keel@example.com", to: ["oncall@example.com"],
                username: "keel", password: "s3cret", security: .startTLS(trustingCertificatesPEM: loopbackCertificatePEM),
                ehloName: "keel.test"
            )
            try await email.send(breakAlert())
            let message = try #require(server.messages.first)
            #expect(message.overTLS)
            #expect(message.authenticatedAs == "keel")
            let commands = server.commands
            #expect(Array(commands.prefix(3)) == ["EHLO keel.test", "STARTTLS", "EHLO keel.test"])
            let auth = try #require(commands.firstIndex { $0.hasPrefix("AUTH") })
            #expect(auth > 2)
        }
    }

    @Test func emailOverSTARTTLSStopsAtAnUntrustedCertificate() async throws {
        var configuration = LoopbackSMTPServer.Configuration()
        configuration.credentials = .init(username: "keel", password: "s3cret")
        configuration.startTLS = loopbackServerTLS
        try await LoopbackSMTPServer.withServer(configuration) { server in
            // The system's roots do not include the loopback certificate.
            let email = EmailChannel(
                host: "localhost", port: server.port, from: "keel@example.com", to: ["oncall@example.com"],
                username: "keel", password: "s3cret", security: .startTLS
            )
            let error = try #require(await sendError(email))
            #expect(error.code == .misconfigured)
            #expect(error.errorClass == .permanent)
            #expect(error.message.contains("TLS handshake"))
            #expect(!server.commands.contains { $0.hasPrefix("AUTH") })
            #expect(server.messages.isEmpty)
        }
    }

    @Test func emailToAClosedPortIsUnreachableAndTransient() async throws {
        let port = try await LoopbackPort.refusingConnections()
        let email = EmailChannel(host: "127.0.0.1", port: port, from: "keel@example.com", to: ["oncall@example.com"], security: .none)
        let error = try #require(await sendError(email))
        #expect(error.code == .unreachable)
        #expect(error.errorClass == .transient)
        #expect(error.message.contains("127.0.0.1:\(port)"))
    }

    // MARK: - Dispatcher

    @Test func dispatcherDeliversToEveryOtherChannelWhenOneIsDown() async throws {
        try await LoopbackHTTPServer.withServer(answering: .json(telegramOK)) { telegramServer in
            try await LoopbackHTTPServer.withServer(answering: .text("ok")) { slackServer in
                try await LoopbackSMTPServer.withServer { smtpServer in
                    try await withHTTPClient { client in
                        let downPort = try await LoopbackPort.refusingConnections()
                        let channels: [any AlertChannel] = [
                            TelegramChannel(botToken: botToken, chatID: "42", apiBase: telegramServer.url, httpClient: client),
                            WebhookChannel(url: "http://127.0.0.1:\(downPort)/hooks/keel", secret: "s", httpClient: client),
                            SlackWebhookChannel(url: "\(slackServer.url)/services/T/B/X", httpClient: client),
                            EmailChannel(
                                host: "127.0.0.1", port: smtpServer.port, from: "keel@example.com", to: ["oncall@example.com"],
                                security: .none
                            ),
                        ]
                        let deliveries = await AlertDispatcher(channels: channels, retry: fastRetry).dispatch(breakAlert())
                        #expect(deliveries.map(\.channel) == ["telegram", "webhook", "slack", "email"])
                        #expect(deliveries.map(\.isDelivered) == [true, false, true, true])
                        let down = deliveries[1]
                        #expect(down.error?.code == .unreachable)
                        #expect(down.error?.errorClass == .transient)
                        #expect(down.attempts == 3)
                        #expect(telegramServer.requests.count == 1)
                        #expect(slackServer.requests.count == 1)
                        #expect(smtpServer.messages.count == 1)
                    }
                }
            }
        }
    }

    // MARK: - SMTP without I/O

    @Test func smtpRepliesSpanningSeveralLinesAreOneReply() throws {
        var parser = SMTPReplyParser()
        #expect(try parser.feed("250-mx.keel.test greets keel.test") == nil)
        #expect(try parser.feed("250-8BITMIME") == nil)
        let reply = try #require(try parser.feed("250 AUTH PLAIN LOGIN"))
        #expect(reply.code == 250)
        #expect(reply.lines == ["mx.keel.test greets keel.test", "8BITMIME", "AUTH PLAIN LOGIN"])
        #expect(SMTPConversation.extensions(in: reply) == ["8BITMIME": "", "AUTH": "PLAIN LOGIN"])
        #expect(try parser.feed("354") == SMTPReply(code: 354, lines: [""]))
        #expect(throws: SMTPReplyParser.Malformed.self) { try parser.feed("HTTP/1.1 400 Bad Request") }
        var mixed = SMTPReplyParser()
        _ = try mixed.feed("250-first")
        #expect(throws: SMTPReplyParser.Malformed.self) { try mixed.feed("550 second") }
    }

    @Test func dataSectionDoublesLeadingDotsAndEndsWithADotLine() {
        let rendered = "Subject: x\r\n\r\n.one\r\ntwo\r\n..three\r\n"
        let data = String(decoding: MailMessage.dataSection(rendered), as: UTF8.self)
        #expect(data == "Subject: x\r\n\r\n..one\r\ntwo\r\n...three\r\n.\r\n")
        #expect(MailMessage.lines(of: "a\nb\r\nc\rd") == ["a", "b", "c", "d"])
    }

    @Test func quotedPrintableKeepsLinesShortAndEncodesTrailingSpace() {
        let long = String(repeating: "é", count: 40) + " "
        let encoded = MailMessage.quotedPrintable(long)
        for line in encoded.components(separatedBy: "\r\n") {
            #expect(line.count <= 76)
        }
        // Soft line breaks (`=` CRLF) vanish on decoding; the trailing space is kept as =20.
        #expect(encoded.replacingOccurrences(of: "=\r\n", with: "") == String(repeating: "=C3=A9", count: 40) + "=20")
    }
}
