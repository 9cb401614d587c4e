import Foundation
public import NIOCore
import NIOPosix
import Synchronization

/// A real SMTP server on 127.0.0.1 that speaks enough of RFC 5321 to receive mail from a
/// client under test, records each message, and can be told to refuse at chosen points.
///
/// It greets with 220 (one line or several), answers EHLO with a multi-line 250 listing its
/// extensions (by default `8BITMIME`, `AUTH PLAIN LOGIN`, `SIZE`), checks AUTH PLAIN and AUTH
/// LOGIN against the configured credentials, takes MAIL, RCPT (answering a scripted reply for
/// chosen recipients, such as a 550), DATA with dot-unstuffing, RSET, NOOP and QUIT, and STARTTLS
/// when the test hands it a TLS handler (``Configuration/startTLS``). It is strict where clients
/// go wrong: a line ending in a bare LF is recorded in ``violations``.
///
/// ```swift
/// var configuration = LoopbackSMTPServer.Configuration()
/// configuration.credentials = .init(username: "keel", password: "secret")
/// configuration.recipientReplies["nobody@example.com"] = "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"
/// try await LoopbackSMTPServer.withServer(configuration) { server in
///     // send to 127.0.0.1:server.port, then:
///     #expect(server.messages.first?.header("Subject") == "Chain break")
/// }
/// ```
public final class LoopbackSMTPServer: Sendable {
    /// A user name and password the server accepts.
    public struct Credentials: Sendable, Equatable {
        /// The user name AUTH must present.
        public var username: String
        /// The password AUTH must present.
        public var password: String

        /// Creates credentials.
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// How the server behaves.
    public struct Configuration: Sendable {
        /// The name the server gives itself in replies.
        public var hostname = "mx.keel.test"
        /// The text of the greeting; more than one line makes a multi-line reply (`220-…`).
        public var greeting = ["mx.keel.test ESMTP ready"]
        /// The greeting's code: 220 to serve, 421 or 554 to refuse the connection.
        public var greetingCode = 220
        /// The extensions listed in the EHLO reply, after the greeting line.
        public var extensions = ["PIPELINING", "SIZE 10485760", "8BITMIME", "AUTH PLAIN LOGIN"]
        /// When set, AUTH must succeed with these before MAIL is accepted.
        public var credentials: Credentials?
        /// Full reply lines for chosen recipients (address in lower case), e.g.
        /// `"550 5.1.1 <x@example.com>: Recipient address rejected: User unknown"`.
        public var recipientReplies: [String: String] = [:]
        /// The reply after the message's final `.`; nil for `250 2.0.0 Ok: queued`.
        public var messageReply: String?
        /// When set, EHLO offers STARTTLS; on STARTTLS the server answers 220 and calls this to
        /// put a server TLS handler first in the connection's pipeline. The test supplies it
        /// (from NIOSSL, for instance), so this module needs no TLS library.
        public var startTLS: (@Sendable (any Channel) throws -> Void)?

        /// The defaults: a 220 greeting, 8BITMIME, AUTH PLAIN LOGIN, no credentials required.
        public init() {}
    }

    /// One message as delivered.
    public struct Message: Sendable {
        /// The reverse-path of MAIL FROM, without angle brackets.
        public var from: String
        /// The parameters after MAIL FROM's path, e.g. `BODY=8BITMIME`.
        public var mailParameters: [String]
        /// The accepted forward-paths of RCPT TO, without angle brackets.
        public var recipients: [String]
        /// The user that AUTH accepted on this connection, if any.
        public var authenticatedAs: String?
        /// Whether the message came over TLS started with STARTTLS.
        public var overTLS: Bool
        /// The DATA section exactly as it crossed the wire, dot-stuffing included, up to (not
        /// including) the final `.` line; lines end in CRLF.
        public var rawData: [UInt8]
        /// The message after dot-unstuffing, lines ending in CRLF.
        public var data: String

        /// The header fields, unfolded, in order.
        public var headers: [(name: String, value: String)] {
            let head = data.components(separatedBy: "\r\n\r\n").first ?? ""
            var fields: [(name: String, value: String)] = []
            for line in head.components(separatedBy: "\r\n") {
                if line.first == " " || line.first == "\t", let last = fields.indices.last {
                    fields[last].value += line
                } else if let colon = line.firstIndex(of: ":") {
                    fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
            }
            return fields
        }

        /// The body: everything after the blank line that ends the header.
        public var body: String {
            guard let range = data.range(of: "\r\n\r\n") else { return "" }
            return String(data[range.upperBound...])
        }

        /// The first value of a header field, matched without regard to case.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// The port the server listens on (chosen by the system).
    public let port: Int
    private let state: State
    private let listener: LoopbackListener

    private init(port: Int, state: State, listener: LoopbackListener) {
        self.port = port
        self.state = state
        self.listener = listener
    }

    /// Starts a server on 127.0.0.1 and a free port, runs `body`, and stops the server (its
    /// connections included) however `body` ends.
    public static func withServer<Result>(
        _ configuration: Configuration = Configuration(),
        _ body: (LoopbackSMTPServer) async throws -> Result
    ) async throws -> Result {
        let state = State(configuration: configuration)
        let listener = try await LoopbackListener.bind { SMTPSessionHandler(state: state) }
        return try await listener.serving(LoopbackSMTPServer(port: listener.port, state: state, listener: listener), body)
    }

    /// Every message accepted so far, in order.
    public var messages: [Message] { state.locked { $0.messages } }
    /// Every command line clients sent (AUTH payloads included, as sent), in order.
    public var commands: [String] { state.locked { $0.commands } }
    /// What clients did against RFC 5321: bare LFs, over-long lines.
    public var violations: [String] { state.locked { $0.violations } }

    /// What the server and its connections share; guarded because connections run on several
    /// event loops while the test reads it.
    final class State: Sendable {
        struct Inner {
            var messages: [Message] = []
            var commands: [String] = []
            var violations: [String] = []
        }
        let configuration: Configuration
        private let inner = Mutex(Inner())

        init(configuration: Configuration) {
            self.configuration = configuration
        }

        func locked<T>(_ body: (inout Inner) -> T) -> T {
            inner.withLock { body(&$0) }
        }
    }
}

/// One SMTP session: reads CRLF lines and answers per RFC 5321.
private final class SMTPSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case command
        case authPlain
        case authLoginUsername
        case authLoginPassword(username: String)
        case data(raw: [UInt8], text: String)
    }

    private let state: LoopbackSMTPServer.State
    private var configuration: LoopbackSMTPServer.Configuration { state.configuration }
    private var pending: [UInt8] = []
    private var mode = Mode.command
    private var greeted = false
    private var authenticatedAs: String?
    private var overTLS = false
    private var mailFrom: (path: String, parameters: [String])?
    private var recipients: [String] = []

    init(state: LoopbackSMTPServer.State) {
        self.state = state
    }

    func channelActive(context: ChannelHandlerContext) {
        let code = configuration.greetingCode
        reply(configuration.greeting.enumerated().map { i, text in
            "\(code)\(i == configuration.greeting.count - 1 ? " " : "-")\(text)"
        }, context: context)
        if code != 220 { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        while let newline = pending.firstIndex(of: 10) {
            var line = Array(pending[..<newline])
            pending.removeFirst(newline + 1)
            if line.last == 13 {
                line.removeLast()
            } else {
                state.locked { $0.violations.append("a line ended in a bare LF: \(String(decoding: line, as: UTF8.self))") }
            }
            if line.count > 998 {
                state.locked { $0.violations.append("a line of \(line.count) octets (RFC 5321 allows 998)") }
            }
            if !handle(line, context: context) { return }
        }
    }

    /// Handles one line; false once the session is over.
    private func handle(_ line: [UInt8], context: ChannelHandlerContext) -> Bool {
        let text = String(decoding: line, as: UTF8.self)
        switch mode {
        case .data(var raw, var message):
            if text == "." {
                mode = .command
                let delivered = LoopbackSMTPServer.Message(
                    from: mailFrom?.path ?? "",
                    mailParameters: mailFrom?.parameters ?? [],
                    recipients: recipients,
                    authenticatedAs: authenticatedAs,
                    overTLS: overTLS,
                    rawData: raw,
                    data: message
                )
                mailFrom = nil
                recipients = []
                if let scripted = configuration.messageReply {
                    reply([scripted], context: context)
                } else {
                    let number = state.locked { inner in
                        inner.messages.append(delivered)
                        return inner.messages.count
                    }
                    reply(["250 2.0.0 Ok: queued as KEEL\(number)"], context: context)
                }
            } else {
                raw += line + [13, 10]
                message += (text.hasPrefix(".") ? String(text.dropFirst()) : text) + "\r\n"
                mode = .data(raw: raw, text: message)
            }
            return true
        case .authPlain:
            state.locked { $0.commands.append(text) }
            mode = .command
            authenticatePlain(text, context: context)
            return true
        case .authLoginUsername:
            state.locked { $0.commands.append(text) }
            mode = .authLoginPassword(username: Self.base64Decoded(text) ?? "")
            reply(["334 UGFzc3dvcmQ6"], context: context)
            return true
        case .authLoginPassword(let username):
            state.locked { $0.commands.append(text) }
            mode = .command
            check(username: username, password: Self.base64Decoded(text) ?? "", context: context)
            return true
        case .command:
            state.locked { $0.commands.append(text) }
            return command(text, context: context)
        }
    }

    private func command(_ text: String, context: ChannelHandlerContext) -> Bool {
        let verb = text.prefix { $0 != " " }.uppercased()
        let argument = text.dropFirst(verb.count).trimmingCharacters(in: .whitespaces)
        switch verb {
        case "EHLO":
            greeted = true
            resetTransaction()
            let offersTLS = configuration.startTLS != nil && !overTLS
            let lines = ["\(configuration.hostname) greets \(argument)"] + configuration.extensions + (offersTLS ? ["STARTTLS"] : [])
            reply(lines.enumerated().map { i, line in "250\(i == lines.count - 1 ? " " : "-")\(line)" }, context: context)
        case "HELO":
            greeted = true
            resetTransaction()
            reply(["250 \(configuration.hostname)"], context: context)
        case "AUTH":
            guard configuration.extensions.contains(where: { $0.uppercased().hasPrefix("AUTH") }) else {
                reply(["502 5.5.1 AUTH not available"], context: context)
                return true
            }
            guard authenticatedAs == nil else {
                reply(["503 5.5.1 Already authenticated"], context: context)
                return true
            }
            let parts = argument.split(separator: " ")
            switch parts.first?.uppercased() {
            case "PLAIN" where parts.count > 1:
                authenticatePlain(String(parts[1]), context: context)
            case "PLAIN":
                mode = .authPlain
                reply(["334 "], context: context)
            case "LOGIN" where parts.count > 1:
                mode = .authLoginPassword(username: Self.base64Decoded(String(parts[1])) ?? "")
                reply(["334 UGFzc3dvcmQ6"], context: context)
            case "LOGIN":
                mode = .authLoginUsername
                reply(["334 VXNlcm5hbWU6"], context: context)
            default:
                reply(["504 5.5.4 Unrecognized authentication type"], context: context)
            }
        case "MAIL":
            guard greeted else { return answer("503 5.5.1 Error: send HELO/EHLO first", context) }
            guard configuration.credentials == nil || authenticatedAs != nil else {
                return answer("530 5.7.0 Authentication required", context)
            }
            guard mailFrom == nil else { return answer("503 5.5.1 Error: nested MAIL command", context) }
            guard argument.uppercased().hasPrefix("FROM:"), let path = Self.path(in: argument.dropFirst(5)) else {
                return answer("501 5.5.4 Syntax: MAIL FROM:<address>", context)
            }
            mailFrom = path
            reply(["250 2.1.0 Ok"], context: context)
        case "RCPT":
            guard mailFrom != nil else { return answer("503 5.5.1 Error: need MAIL command", context) }
            guard argument.uppercased().hasPrefix("TO:"), let path = Self.path(in: argument.dropFirst(3)) else {
                return answer("501 5.5.4 Syntax: RCPT TO:<address>", context)
            }
            if let scripted = configuration.recipientReplies[path.path.lowercased()] {
                reply([scripted], context: context)
            } else {
                recipients.append(path.path)
                reply(["250 2.1.5 Ok"], context: context)
            }
        case "DATA":
            guard mailFrom != nil else { return answer("503 5.5.1 Error: need MAIL command", context) }
            guard !recipients.isEmpty else { return answer("554 5.5.1 Error: no valid recipients", context) }
            mode = .data(raw: [], text: "")
            reply(["354 End data with <CR><LF>.<CR><LF>"], context: context)
        case "STARTTLS":
            guard let startTLS = configuration.startTLS, !overTLS else {
                return answer("502 5.5.1 Error: command not implemented", context)
            }
            reply(["220 2.0.0 Ready to start TLS"], context: context)
            // The 220 has gone out in the clear; everything after it is TLS. Whatever the
            // client sent before the handshake is discarded, and the session starts over
            // (RFC 3207 §4.2).
            do {
                try startTLS(context.channel)
            } catch {
                context.close(promise: nil)
                return false
            }
            pending = []
            overTLS = true
            greeted = false
            authenticatedAs = nil
            resetTransaction()
        case "RSET":
            resetTransaction()
            reply(["250 2.0.0 Ok"], context: context)
        case "NOOP":
            reply(["250 2.0.0 Ok"], context: context)
        case "QUIT":
            reply(["221 2.0.0 Bye"], context: context, thenClose: true)
            return false
        default:
            reply(["502 5.5.2 Error: command not recognized"], context: context)
        }
        return true
    }

    private func answer(_ line: String, _ context: ChannelHandlerContext) -> Bool {
        reply([line], context: context)
        return true
    }

    private func resetTransaction() {
        mailFrom = nil
        recipients = []
    }

    private func authenticatePlain(_ encoded: String, context: ChannelHandlerContext) {
        // authzid NUL authcid NUL passwd (RFC 4616)
        let parts = (Self.base64Decoded(encoded) ?? "").split(separator: "\0", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            reply(["501 5.5.2 Cannot decode AUTH PLAIN response"], context: context)
            return
        }
        check(username: String(parts[1]), password: String(parts[2]), context: context)
    }

    private func check(username: String, password: String, context: ChannelHandlerContext) {
        if let expected = configuration.credentials, expected.username == username, expected.password == password {
            authenticatedAs = username
            reply(["235 2.7.0 Authentication successful"], context: context)
        } else {
            reply(["535 5.7.8 Error: authentication failed: authentication failure"], context: context)
        }
    }

    private func reply(_ lines: [String], context: ChannelHandlerContext, thenClose: Bool = false) {
        var out = context.channel.allocator.buffer(capacity: 128)
        for line in lines { out.writeString(line + "\r\n") }
        if thenClose {
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    /// `<path> PARAM PARAM` → the path without brackets and the parameters.
    private static func path(in text: Substring) -> (path: String, parameters: [String])? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("<"), let close = trimmed.firstIndex(of: ">") else { return nil }
        let path = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
        let parameters = trimmed[trimmed.index(after: close)...].split(separator: " ").map(String.init)
        return (path, parameters)
    }

    private static func base64Decoded(_ text: String) -> String? {
        Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)).map { String(decoding: $0, as: UTF8.self) }
    }
}
