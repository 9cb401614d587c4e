import Foundation
import KeelCore

/// The client side of one SMTP session (RFC 5321), as a value with no I/O: feed it the server's
/// replies and it says what to do next. The driver (``SMTPSession``) does the reading and
/// writing, so every branch here is tested without a socket.
///
/// The path: greeting 220 → EHLO (HELO if EHLO is not understood) → STARTTLS and EHLO again when
/// required → AUTH PLAIN or LOGIN when credentials are set → MAIL FROM → RCPT TO for each
/// recipient → DATA → the message → QUIT. A refusal ends the session with QUIT and an
/// ``AlertError`` naming the command and quoting the reply.
struct SMTPConversation {
    struct Credentials: Sendable {
        var username: String
        var password: String
    }

    struct Settings: Sendable {
        /// The channel's name and `host:port`, for messages.
        var channel: String
        var server: String
        var ehloName: String
        var reversePath: String
        var recipients: [String]
        var credentials: Credentials?
        var requireTLS: Bool
        var message: MailMessage
    }

    /// A recipient the server refused while others were accepted.
    struct Refusal: Sendable {
        var recipient: String
        var reply: SMTPReply
    }

    enum Outcome: Sendable {
        case delivered(refused: [Refusal])
        case failed(AlertError)
    }

    enum Action {
        /// Write this command line (CRLF is added by the driver).
        case send(String)
        /// Write the message's DATA section (dot-stuffed, ending in `.`).
        case sendData([UInt8])
        /// Start TLS on the connection, then call ``tlsEstablished()``.
        case startTLS
        /// The session is over: close the connection.
        case close(Outcome)
    }

    private enum State {
        case greeting
        case ehlo(afterTLS: Bool)
        case helo
        case startTLS
        case tlsHandshake
        case authPlain
        case authLoginUsername
        case authLoginPassword
        case authLoginDone
        case mailFrom
        case recipient(Int)
        case data
        case message
        case quit(Outcome)
        case closed
    }

    private let settings: Settings
    private var state = State.greeting
    private var extensions: [String: String] = [:]
    private var tlsActive = false
    private var encoding = MailMessage.TransferEncoding.sevenBit
    private var accepted: [String] = []
    private var refused: [Refusal] = []

    init(settings: Settings) {
        self.settings = settings
    }

    /// The command whose reply is awaited, as it may be shown (no credentials).
    var awaiting: String {
        switch state {
        case .greeting: "the greeting"
        case .ehlo: "EHLO"
        case .helo: "HELO"
        case .startTLS, .tlsHandshake: "STARTTLS"
        case .authPlain: "AUTH PLAIN"
        case .authLoginUsername, .authLoginPassword, .authLoginDone: "AUTH LOGIN"
        case .mailFrom: "MAIL FROM:<\(settings.reversePath)>"
        case .recipient(let i): "RCPT TO:<\(settings.recipients[i])>"
        case .data: "DATA"
        case .message: "the message (after DATA)"
        case .quit: "QUIT"
        case .closed: "nothing"
        }
    }

    /// The next step after a reply.
    mutating func receive(_ reply: SMTPReply) -> Action {
        switch state {
        case .greeting:
            guard reply.code == 220 else {
                state = .closed
                return .close(.failed(refusal("the connection", reply, hint: "the server is not accepting mail from this host now")))
            }
            state = .ehlo(afterTLS: false)
            return .send("EHLO \(settings.ehloName)")

        case .ehlo(let afterTLS):
            if reply.isPositive {
                extensions = Self.extensions(in: reply)
                return afterGreeting()
            }
            if !afterTLS && (500...504).contains(reply.code) {
                // An old server that does not know EHLO (RFC 5321 §3.2).
                state = .helo
                return .send("HELO \(settings.ehloName)")
            }
            return fail(refusal("EHLO \(settings.ehloName)", reply, hint: "check ehloName, or the server's policy for this host"))

        case .helo:
            guard reply.isPositive else {
                return fail(refusal("HELO \(settings.ehloName)", reply, hint: "check the server's policy for this host"))
            }
            extensions = [:]
            return afterGreeting()

        case .startTLS:
            guard reply.code == 220 else {
                return fail(refusal("STARTTLS", reply, hint: "the server cannot start TLS now; check its TLS set-up"))
            }
            state = .tlsHandshake
            return .startTLS

        case .tlsHandshake:
            state = .closed
            return .close(.failed(violation("a reply arrived before the TLS handshake: \(reply.quoted)")))

        case .authPlain, .authLoginDone:
            if reply.code == 235 { return mailFrom() }
            return fail(authRefusal(reply))

        case .authLoginUsername:
            guard reply.code == 334, let credentials = settings.credentials else { return fail(authRefusal(reply)) }
            state = .authLoginPassword
            return .send(Data(credentials.username.utf8).base64EncodedString())

        case .authLoginPassword:
            guard reply.code == 334, let credentials = settings.credentials else { return fail(authRefusal(reply)) }
            state = .authLoginDone
            return .send(Data(credentials.password.utf8).base64EncodedString())

        case .mailFrom:
            guard reply.isPositive else {
                return fail(refusal(awaiting, reply, hint: "check the from address and that the account may send as it"))
            }
            return recipient(0)

        case .recipient(let index):
            if reply.isPositive {
                accepted.append(settings.recipients[index])
            } else if reply.isTransientFailure {
                // Retrying later must reach everyone, so nobody gets it now.
                return fail(refusal(awaiting, reply, hint: "the server defers this recipient; a retry should pass"))
            } else {
                refused.append(Refusal(recipient: settings.recipients[index], reply: reply))
            }
            if index + 1 < settings.recipients.count { return recipient(index + 1) }
            guard !accepted.isEmpty else {
                let first = refused[0]
                return fail(refusal("RCPT TO:<\(first.recipient)>", first.reply, hint: recipientHint))
            }
            state = .data
            return .send("DATA")

        case .data:
            guard reply.code == 354 else { return fail(refusal("DATA", reply, hint: "check the server's limits")) }
            state = .message
            return .sendData(MailMessage.dataSection(settings.message.rendered(encoding: encoding)))

        case .message:
            guard reply.isPositive else {
                return fail(refusal(awaiting, reply, hint: "the server refused the message itself; check its size and content policy"))
            }
            state = .quit(.delivered(refused: refused))
            return .send("QUIT")

        case .quit(let outcome):
            state = .closed
            return .close(outcome)

        case .closed:
            return .close(.failed(violation("a reply arrived after the session ended: \(reply.quoted)")))
        }
    }

    /// TLS is up: greet again, as RFC 3207 requires (the extensions may differ).
    mutating func tlsEstablished() -> Action {
        tlsActive = true
        extensions = [:]
        state = .ehlo(afterTLS: true)
        return .send("EHLO \(settings.ehloName)")
    }

    /// The server closed the connection (or it broke); the outcome if the session can end here.
    mutating func connectionClosed() -> Outcome {
        switch state {
        case .quit(let outcome):
            // The message was accepted (or the failure known) before QUIT; its reply is a courtesy.
            state = .closed
            return outcome
        default:
            let waitingFor = awaiting
            state = .closed
            return .failed(
                AlertError(
                    code: .unreachable,
                    message: "\(settings.channel): \(settings.server) closed the connection while Keel waited for the reply to \(waitingFor); check the port and the server's logs",
                    errorClass: .transient
                )
            )
        }
    }

    /// A reply that could not be read ends the session.
    mutating func malformedReply(_ description: String) -> AlertError {
        state = .closed
        return violation(description)
    }

    // MARK: - Steps

    private mutating func afterGreeting() -> Action {
        if settings.requireTLS && !tlsActive {
            guard extensions["STARTTLS"] != nil else {
                return fail(
                    AlertError(
                        code: .misconfigured,
                        message: "\(settings.channel): \(settings.server) does not offer STARTTLS; use the submission port (587) or set security to none for a server on a trusted network",
                        errorClass: .permanent
                    )
                )
            }
            state = .startTLS
            return .send("STARTTLS")
        }
        encoding = settings.message.transferEncoding(serverAccepts8BitMIME: extensions["8BITMIME"] != nil)
        guard let credentials = settings.credentials else { return mailFrom() }
        let mechanisms = (extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init)
        if mechanisms.contains("PLAIN") {
            state = .authPlain
            // RFC 4616: authorization id (empty), NUL, user, NUL, password.
            let token = Data("\0\(credentials.username)\0\(credentials.password)".utf8).base64EncodedString()
            return .send("AUTH PLAIN \(token)")
        }
        if mechanisms.contains("LOGIN") {
            state = .authLoginUsername
            return .send("AUTH LOGIN")
        }
        let offered = mechanisms.isEmpty ? "no AUTH" : "AUTH \(mechanisms.joined(separator: " "))"
        let tlsHint =
            !tlsActive && extensions["STARTTLS"] != nil
            ? "it offers STARTTLS: set security to starttls so it offers AUTH" : "Keel speaks AUTH PLAIN and LOGIN"
        return fail(
            AlertError(
                code: .misconfigured,
                message: "\(settings.channel): \(settings.server) offers \(offered), but a username and password are set; \(tlsHint), or drop the credentials",
                errorClass: .permanent
            )
        )
    }

    private mutating func mailFrom() -> Action {
        state = .mailFrom
        let body = encoding == .eightBit ? " BODY=8BITMIME" : ""
        return .send("MAIL FROM:<\(settings.reversePath)>\(body)")
    }

    private mutating func recipient(_ index: Int) -> Action {
        state = .recipient(index)
        return .send("RCPT TO:<\(settings.recipients[index])>")
    }

    /// Ends the session politely: QUIT, then report.
    private mutating func fail(_ error: AlertError) -> Action {
        state = .quit(.failed(error))
        return .send("QUIT")
    }

    private var recipientHint: String {
        "check the address, and that the server relays for it (authenticate if it needs a login)"
    }

    private func refusal(_ command: String, _ reply: SMTPReply, hint: String) -> AlertError {
        AlertError(
            code: .rejected(status: reply.code),
            message: "\(settings.channel): \(settings.server) refused \(command) with \"\(reply.quoted)\"; \(hint)",
            errorClass: reply.isTransientFailure ? .transient : .permanent
        )
    }

    private func authRefusal(_ reply: SMTPReply) -> AlertError {
        let hint =
            reply.isTransientFailure
            ? "the server cannot check credentials now; a retry should pass"
            : "check the username and password (an app password where the provider requires one)"
        // The command is named without its argument: that is the credentials.
        return refusal(awaiting, reply, hint: hint)
    }

    private func violation(_ description: String) -> AlertError {
        AlertError(
            code: .protocolViolation,
            message: "\(settings.channel): \(settings.server) does not speak SMTP as expected (\(description)); check host and port",
            errorClass: .permanent
        )
    }

    /// `250-mx greets you`, `250-8BITMIME`, `250 AUTH PLAIN LOGIN` → ["8BITMIME": "", "AUTH": "PLAIN LOGIN"].
    static func extensions(in reply: SMTPReply) -> [String: String] {
        var found: [String: String] = [:]
        for line in reply.lines.dropFirst() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // Old servers announce AUTH=LOGIN PLAIN as well.
            let keyword = trimmed.prefix { $0 != " " && $0 != "=" }.uppercased()
            guard !keyword.isEmpty else { continue }
            let parameters = trimmed.dropFirst(keyword.count).drop { $0 == " " || $0 == "=" }
            found[keyword] = [found[keyword], String(parameters)].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        }
        return found
    }
}
