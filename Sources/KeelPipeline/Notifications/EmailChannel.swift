import Foundation
public import KeelCore

/// Sends alerts by email through an SMTP server (RFC 5321), as a plain-text UTF-8 message.
///
/// The client greets with EHLO, upgrades with STARTTLS when ``Security-swift.struct/startTLS``
/// is set, authenticates with AUTH PLAIN (or LOGIN) when credentials are set, sends MAIL FROM,
/// one RCPT TO per recipient, then the message with dot-stuffing and CRLF line endings, and
/// QUITs. A refusal becomes an ``AlertError`` that names the command and quotes the server's
/// reply (4xx transient, 5xx permanent). When some recipients are refused and others accepted,
/// the message still goes to the accepted ones and `send` throws a permanent error naming the
/// refused addresses, so a retry cannot send it twice.
///
/// ```swift
/// let email = EmailChannel(
///     host: "smtp.example.com", port: 587,
///     from: "Keel <keel@example.com>", to: ["oncall@example.com"],
///     username: "keel@example.com", password: appPassword,
///     security: .startTLS
/// )
/// try await email.send(alert)
/// ```
public struct EmailChannel: AlertChannel {
    /// How the connection is protected.
    public struct Security: Sendable {
        enum Mode: Sendable, Equatable {
            case none
            case startTLS(trustedCertificatesPEM: String?)
        }
        let mode: Mode

        /// Plain TCP: only for a relay on a trusted network (or a test server).
        public static let none = Security(mode: .none)
        /// STARTTLS (RFC 3207), required: the session stops if the server does not offer it or
        /// its certificate is not valid for the host under the system's trust roots.
        public static let startTLS = Security(mode: .startTLS(trustedCertificatesPEM: nil))

        /// STARTTLS, trusting only the given PEM certificates (a private CA, a self-signed relay).
        public static func startTLS(trustingCertificatesPEM pem: String) -> Security {
            Security(mode: .startTLS(trustedCertificatesPEM: pem))
        }
    }

    /// The name shown in results and logs.
    public let name: String
    private let host: String
    private let port: Int
    private let from: String
    private let to: [String]
    private let credentials: SMTPConversation.Credentials?
    private let security: Security
    private let ehloName: String
    private let timeout: Duration
    private let clock: any WallClock

    /// Creates a channel.
    ///
    /// - Parameters:
    ///   - host: The SMTP server.
    ///   - port: 587 for submission with STARTTLS, 25 for a relay.
    ///   - from: The sender, `address` or `Name <address>`.
    ///   - to: The recipients, each `address` or `Name <address>`.
    ///   - username: The AUTH user; no AUTH when nil.
    ///   - password: The AUTH password.
    ///   - security: `.startTLS` (the default) or `.none`.
    ///   - ehloName: The name Keel gives in EHLO; defaults to this host's name.
    ///   - timeout: How long the whole SMTP session may take.
    ///   - clock: The source of the `Date` header.
    ///   - name: The name shown in results, when several email channels are configured.
    public init(
        host: String,
        port: Int = 587,
        from: String,
        to: [String],
        username: String? = nil,
        password: String? = nil,
        security: Security = .startTLS,
        ehloName: String? = nil,
        timeout: Duration = .seconds(30),
        clock: any WallClock = SystemWallClock(),
        name: String = "email"
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.from = from
        self.to = to
        self.credentials = username.map { SMTPConversation.Credentials(username: $0, password: password ?? "") }
        self.security = security
        self.ehloName = ehloName ?? Self.defaultEHLOName()
        self.timeout = timeout
        self.clock = clock
    }

    /// Delivers the alert; throws an ``AlertError`` naming the refused command and quoting the
    /// server's reply.
    public func send(_ alert: Alert) async throws {
        let server = "\(host):\(port)"
        let reversePath = MailMessage.address(of: from)
        let recipients = to.map(MailMessage.address(of:))
        if let problem = Self.problem(reversePath: reversePath, recipients: recipients) {
            throw AlertError(code: .misconfigured, message: "\(name): \(problem); check the email channel in keel.yml", errorClass: .permanent)
        }
        let domain = reversePath.split(separator: "@").last.map(String.init) ?? "keel.invalid"
        let message = MailMessage(
            from: from,
            to: to,
            subject: "[Keel] \(alert.title)",
            date: clock.now(),
            // The same on a retry, so mail clients can fold duplicates.
            messageID: "<keel.\(alert.id)@\(domain)>",
            extraHeaders: [("Auto-Submitted", "auto-generated"), ("X-Keel-Event", alert.event)],
            body: Self.text(for: alert)
        )
        let tls: String?? =
            switch security.mode {
            case .none: .none
            case .startTLS(let pem): .some(pem)
            }
        let conversation = SMTPConversation(
            settings: .init(
                channel: name,
                server: server,
                ehloName: ehloName,
                reversePath: reversePath,
                recipients: recipients,
                credentials: credentials,
                requireTLS: tls != nil,
                message: message
            )
        )
        let endpoint = SMTPSession.Endpoint(
            host: host,
            port: port,
            trustedCertificatesPEM: tls ?? nil,
            timeout: timeout,
            channel: name
        )
        switch await SMTPSession.run(conversation, at: endpoint) {
        case .failed(let error):
            throw error
        case .delivered(let refused) where !refused.isEmpty:
            let delivered = Set(recipients).subtracting(refused.map(\.recipient)).sorted()
            let refusals = refused.map { "RCPT TO:<\($0.recipient)> with \"\($0.reply.quoted)\"" }.joined(separator: "; ")
            throw AlertError(
                code: .rejected(status: refused[0].reply.code),
                message: "\(name): delivered to \(delivered.joined(separator: ", ")), but \(server) refused \(refusals); check those addresses",
                errorClass: .permanent
            )
        case .delivered:
            return
        }
    }

    /// The plain-text body: title, body, fields, link.
    static func text(for alert: Alert) -> String {
        var lines = [alert.title, ""]
        let body = alert.body.trimmingCharacters(in: .whitespacesAndNewlines)
        if !body.isEmpty { lines += [body, ""] }
        if !alert.fields.isEmpty {
            lines += alert.fields.map { "\($0.key): \($0.value)" }
            lines.append("")
        }
        if let link = alert.link { lines += ["Open: \(link)", ""] }
        lines.append("-- ")
        lines.append("Keel (\(alert.severity.rawValue), \(alert.event))")
        return lines.joined(separator: "\n")
    }

    /// Addresses that would break the SMTP commands or the header.
    private static func problem(reversePath: String, recipients: [String]) -> String? {
        if recipients.isEmpty { return "no recipients are configured" }
        for address in [reversePath] + recipients {
            if address.isEmpty || address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == " " || $0 == "<" || $0 == ">" })
                || !address.contains("@")
            {
                return "\"\(address)\" is not an email address"
            }
        }
        return nil
    }

    private static func defaultEHLOName() -> String {
        let host = ProcessInfo.processInfo.hostName
        return host.isEmpty || host.contains(" ") ? "localhost" : host
    }
}
