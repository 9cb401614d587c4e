import AsyncHTTPClient
import Foundation
import KeelCore
import NIOCore

/// How Keel handles an HTTP exchange that failed, for every outbound HTTP client it has (alert
/// channels, the token refresher): the same status or transport error is the same kind of
/// failure everywhere; only the wording of the message differs.
enum HTTPFailure {
    /// A request that got no answer.
    enum Transport {
        /// The URL cannot work: fix the configuration.
        case badURL
        /// The peer did not answer in time.
        case timedOut
        /// No connection, or it broke before an answer.
        case unreachable

        init(_ error: any Error) {
            switch error as? HTTPClientError {
            case .invalidURL?, .emptyHost?, .emptyScheme?:
                self = .badURL
            case .deadlineExceeded?, .readTimeout?, .writeTimeout?, .connectTimeout?, .tlsHandshakeTimeout?,
                .getConnectionFromPoolTimeout?:
                self = .timedOut
            default:
                self = .unreachable
            }
        }
    }

    /// How an answer's status is handled: 408, 425, 429 and 5xx may pass (`wait` when the peer
    /// said when), any other refusal will not.
    static func errorClass(status: Int, retryAfter: Duration?) -> ErrorClass {
        switch status {
        case 408, 425, 429, 500...599: retryAfter == nil ? .transient : .wait
        default: .permanent
        }
    }
}

/// The broad kind of a failure to talk to a peer: an alert channel (``AlertError``), a token
/// endpoint (``TokenError``). New codes may be added, so `switch` with a default.
public struct OutboundErrorCode: Hashable, Sendable, CustomStringConvertible {
    let name: String
    /// The status the peer answered with, for ``rejected(status:)``.
    public let status: Int?

    /// The peer answered and refused: an HTTP status, a Telegram `error_code`, an SMTP reply code.
    public static func rejected(status: Int) -> OutboundErrorCode { OutboundErrorCode(name: "rejected", status: status) }
    /// No connection could be made, or it broke before the peer answered.
    public static let unreachable = OutboundErrorCode(name: "unreachable", status: nil)
    /// The peer did not answer in time.
    public static let timedOut = OutboundErrorCode(name: "timed_out", status: nil)
    /// The peer answered in a way its protocol does not allow (a 2xx without a usable token, say).
    public static let protocolViolation = OutboundErrorCode(name: "protocol_violation", status: nil)
    /// Keel's own settings for the peer cannot work (a malformed URL, no recipients, AUTH not offered).
    public static let misconfigured = OutboundErrorCode(name: "misconfigured", status: nil)
    /// An alert channel outside Keel threw an error that is not an ``AlertError``.
    public static let failed = OutboundErrorCode(name: "failed", status: nil)
    /// The token broker's credentials file is missing, unreadable, malformed or could not be written.
    public static let credentialsFile = OutboundErrorCode(name: "credentials_file", status: nil)
    /// A ``TokenRefresher`` outside Keel threw an error that is not a ``TokenError``.
    public static let refreshFailed = OutboundErrorCode(name: "refresh_failed", status: nil)

    /// A short, stable name for logs, e.g. `rejected(429)`.
    public var description: String {
        status.map { "\(name)(\($0))" } ?? name
    }
}

/// The pieces every outbound HTTP exchange of Keel's shares (alert channels, the token refresher).
enum OutboundHTTP {
    /// Whether `text` is an `http` or `https` URL with a host.
    static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { return false }
        return (scheme == "http" || scheme == "https") && url.host?.isEmpty == false
    }

    /// The first `limit` bytes of a response body as text (the rest is not read): an answer is
    /// only ever quoted in an error or parsed for a few fields.
    static func text(of body: HTTPClientResponse.Body, limit: Int) async throws -> String {
        var buffer = ByteBuffer()
        for try await chunk in body {
            var chunk = chunk
            let room = limit - buffer.readableBytes
            if room <= 0 { break }
            if chunk.readableBytes > room { chunk = chunk.getSlice(at: chunk.readerIndex, length: room) ?? chunk }
            buffer.writeBuffer(&chunk)
        }
        return String(decoding: buffer.readableBytesView, as: UTF8.self)
    }
}
