import AsyncHTTPClient
import KeelCore

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
