import AsyncHTTPClient
import Foundation
import KeelCore
import NIOCore
import NIOHTTP1

/// The answer of an HTTP endpoint, read far enough to classify it.
struct HTTPAnswer: Sendable {
    var status: Int
    /// The first bytes of the body as text (answers are short; a huge one is cut).
    var body: String
    /// The `Retry-After` header in seconds, when present and numeric.
    var retryAfterHeader: Duration?

    var isSuccess: Bool { (200..<300).contains(status) }

    /// The body on one line and cut short, for an error message.
    var bodySnippet: String {
        let oneLine = body.split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        if oneLine.isEmpty { return "an empty body" }
        return oneLine.count > 300 ? "\"\(oneLine.prefix(300))…\"" : "\"\(oneLine)\""
    }
}

/// Posts JSON documents for the HTTP channels on the owner's shared `HTTPClient` and turns
/// what goes wrong on the way (not the answer itself) into ``AlertError``s.
struct HTTPDelivery: Sendable {
    let client: HTTPClient
    let timeout: Duration
    /// The channel's name, for messages.
    let channel: String
    /// The endpoint as it may be shown: no secret in it.
    let endpoint: String
    let redactor: SecretRedactor

    private static let answerLimit = 64 * 1024

    /// Posts `body` to `url` and returns the answer, whatever its status.
    func post(url: String, json body: String, headers extra: [(String, String)] = []) async throws -> HTTPAnswer {
        guard OutboundHTTP.isHTTPURL(url) else {
            throw AlertError(
                code: .misconfigured,
                message: "\(channel): the endpoint \(endpoint) is not an http(s) URL with a host; check the channel's URL in keel.yml",
                errorClass: .permanent
            )
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.headers.add(name: "User-Agent", value: "Keel")
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))

        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            let text = try await OutboundHTTP.text(of: response.body, limit: Self.answerLimit)
            let retryAfter = response.headers.first(name: "Retry-After")
                .flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                .map { Duration.seconds(max(0, $0)) }
            return HTTPAnswer(
                status: Int(response.status.code),
                body: text,
                retryAfterHeader: retryAfter
            )
        } catch let error as AlertError {
            throw error
        } catch {
            throw transportError(error)
        }
    }

    /// The error for an exchange that failed before an answer arrived.
    func transportError(_ error: any Error) -> AlertError {
        let cause = redactor.scrub(error)
        let said = redactor(String(describing: error))
        switch HTTPFailure.Transport(error) {
        case .badURL:
            return AlertError(
                code: .misconfigured,
                message: "\(channel): \(endpoint) is not a usable URL (\(said)); check the channel's URL in keel.yml",
                errorClass: .permanent,
                cause: cause
            )
        case .timedOut:
            return AlertError(
                code: .timedOut,
                message: "\(channel): \(endpoint) did not answer within \(timeout) (\(said)); check that it is reachable from this host",
                errorClass: .transient,
                cause: cause
            )
        case .unreachable:
            break
        }
        return AlertError(
            code: .unreachable,
            message: "\(channel): could not reach \(endpoint) (\(said)); check the address, DNS and any proxy or firewall on the way",
            errorClass: .transient,
            cause: cause
        )
    }

    /// How an HTTP status is handled: 408, 425, 429 and 5xx may pass, other 4xx will not.
    static func errorClass(forStatus status: Int, retryAfter: Duration?) -> ErrorClass {
        HTTPFailure.errorClass(status: status, retryAfter: retryAfter)
    }

    /// `scheme://host[:port]` of a URL: enough to say where, without a path that may be a secret.
    static func origin(of url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else {
            return "the configured URL"
        }
        return parsed.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }
}
