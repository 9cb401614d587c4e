import KeelCore
import NIOCore
import NIOPosix
import NIOSSL

/// Runs an ``SMTPConversation`` over a TCP connection: reads replies, writes what the
/// conversation asks for, starts TLS on STARTTLS, and bounds the whole session by a timeout.
enum SMTPSession {
    struct Endpoint: Sendable {
        var host: String
        var port: Int
        /// PEM certificates to trust instead of the system's roots; nil for the system's.
        var trustedCertificatesPEM: String?
        var timeout: Duration
        var channel: String
        var server: String { "\(host):\(port)" }
    }

    /// The session's outcome; never throws (every failure is an outcome).
    static func run(_ conversation: SMTPConversation, at endpoint: Endpoint) async -> SMTPConversation.Outcome {
        let connection: NIOAsyncChannel<SMTPReply, ByteBuffer>
        do {
            connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(min(endpoint.timeout, .seconds(15))))
                .connect(host: endpoint.host, port: endpoint.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                        return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return .failed(
                AlertError(
                    code: .unreachable,
                    message: "\(endpoint.channel): could not connect to \(endpoint.server) (\(error)); check host, port and any firewall on the way",
                    errorClass: .transient,
                    cause: error
                )
            )
        }

        return await withTaskGroup(of: SMTPConversation.Outcome.self) { group in
            group.addTask {
                await converse(conversation, over: connection, endpoint: endpoint)
            }
            group.addTask {
                try? await Task.sleep(for: endpoint.timeout)
                // Closing ends the other task's read; its outcome comes second and is dropped.
                connection.channel.close(promise: nil)
                return .failed(
                    AlertError(
                        code: .timedOut,
                        message: "\(endpoint.channel): \(endpoint.server) did not finish the SMTP session within \(endpoint.timeout); check that it is an SMTP server and not overloaded",
                        errorClass: .transient
                    )
                )
            }
            let first = await group.next() ?? .failed(AlertError(code: .failed, message: "\(endpoint.channel): the SMTP session ended without an outcome", errorClass: .transient))
            group.cancelAll()
            return first
        }
    }

    private static func converse(
        _ start: SMTPConversation,
        over connection: NIOAsyncChannel<SMTPReply, ByteBuffer>,
        endpoint: Endpoint
    ) async -> SMTPConversation.Outcome {
        var conversation = start
        // Between STARTTLS and the first reply over TLS, a dropped connection or a failed write is the
        // handshake failing (the server rejected us, or we rejected its certificate): whichever of
        // the close or the TLS error reaches us first, that is what to report.
        var awaitingFirstTLSReply = false
        let handshakeFailed = { (detail: String) in
            AlertError(
                code: .misconfigured,
                message: "\(endpoint.channel): the TLS handshake with \(endpoint.server) failed (\(detail)); check that the certificate is valid for \(endpoint.host) and trusted",
                errorClass: .permanent)
        }
        do {
            return try await connection.executeThenClose { inbound, outbound in
                var replies = inbound.makeAsyncIterator()
                while true {
                    let reply: SMTPReply?
                    do {
                        reply = try await replies.next()
                    } catch let malformed as SMTPReplyParser.Malformed {
                        return .failed(conversation.malformedReply(malformed.description))
                    } catch {
                        if awaitingFirstTLSReply, !(error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError) {
                            return .failed(handshakeFailed("\(error)"))
                        }
                        return .failed(readFailure(error, waitingFor: conversation.awaiting, endpoint: endpoint))
                    }
                    guard let reply else {
                        if awaitingFirstTLSReply { return .failed(handshakeFailed("the connection closed during the handshake")) }
                        return conversation.connectionClosed()
                    }
                    awaitingFirstTLSReply = false
                    var action = conversation.receive(reply)
                    while true {
                        switch action {
                        case .send(let line):
                            try await outbound.write(ByteBuffer(string: line + "\r\n"))
                        case .sendData(let bytes):
                            try await outbound.write(ByteBuffer(bytes: bytes))
                        case .startTLS:
                            try await startTLS(on: connection.channel, endpoint: endpoint)
                            awaitingFirstTLSReply = true
                            action = conversation.tlsEstablished()
                            continue
                        case .close(let outcome):
                            return outcome
                        }
                        break
                    }
                }
            }
        } catch let error as AlertError {
            return .failed(error)
        } catch {
            // A write failed: the connection broke under the conversation.
            if awaitingFirstTLSReply { return .failed(handshakeFailed("\(error)")) }
            return conversation.connectionClosed()
        }
    }

    private static func startTLS(on channel: any Channel, endpoint: Endpoint) async throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let pem = endpoint.trustedCertificatesPEM {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            } catch {
                throw AlertError(
                    code: .misconfigured,
                    message: "\(endpoint.channel): the trusted certificates given for \(endpoint.server) are not readable PEM (\(error))",
                    errorClass: .permanent,
                    cause: error
                )
            }
        }
        // SNI carries a name, never an address literal.
        let isAddress = endpoint.host.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" } && endpoint.host.contains { $0 == "." || $0 == ":" }
            && endpoint.host.contains { $0.isNumber }
        let serverHostname = isAddress ? nil : endpoint.host
        let tlsConfiguration = configuration
        try await channel.eventLoop.submit {
            let context = try NIOSSLContext(configuration: tlsConfiguration)
            let handler = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }.get()
    }

    private static func readFailure(_ error: any Error, waitingFor: String, endpoint: Endpoint) -> AlertError {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return AlertError(
                code: .misconfigured,
                message: "\(endpoint.channel): the TLS handshake with \(endpoint.server) failed (\(error)); check that the certificate is valid for \(endpoint.host) and trusted",
                errorClass: .permanent,
                cause: error
            )
        }
        return AlertError(
            code: .unreachable,
            message: "\(endpoint.channel): the connection to \(endpoint.server) broke while Keel waited for the reply to \(waitingFor) (\(error))",
            errorClass: .transient,
            cause: error
        )
    }
}
