import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 that records every request and answers from a script:
/// a stand-in for an API this machine cannot reach (Telegram's Bot API, a Slack webhook), which
/// a test makes answer exactly as the real service documents, 429s included.
///
/// Answers come from the queue filled by ``enqueue(_:)``, in order, then from the fallback.
/// Connections are kept alive, so a client's pooled connections are exercised too.
///
/// ```swift
/// try await LoopbackHTTPServer.withServer { server in
///     server.enqueue(.json(#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#, status: 429))
///     // point the client at server.url, send, then:
///     #expect(server.requests.count == 2)
/// }
/// ```
public final class LoopbackHTTPServer: Sendable {
    /// One request as the server read it.
    public struct Request: Sendable {
        /// The method, e.g. `POST`.
        public var method: String
        /// The request target: path and query, e.g. `/bot123:abc/sendMessage`.
        public var target: String
        /// The header fields in the order received, names as sent.
        public var headers: [(name: String, value: String)]
        /// The body, de-chunked.
        public var body: [UInt8]

        /// The path without the query.
        public var path: String { String(target.prefix { $0 != "?" }) }
        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The first value of a header, matched without regard to case.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// An answer to play back.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// Header fields to send; `Content-Length` is added.
        public var headers: [(name: String, value: String)]
        /// The body.
        public var body: [UInt8]

        /// Creates an answer.
        public init(status: Int = 200, headers: [(String, String)] = [], body: String = "") {
            self.status = status
            self.headers = headers.map { (name: $0.0, value: $0.1) }
            self.body = Array(body.utf8)
        }

        /// A JSON answer.
        public static func json(_ body: String, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
        }

        /// A plain-text answer, as Slack's webhooks give (`ok`, `invalid_payload`).
        public static func text(_ body: String, status: Int = 200, headers: [(String, String)] = []) -> Response {
            Response(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: body)
        }
    }

    /// The port the server listens on (chosen by the system).
    public let port: Int
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    public var url: String { "http://127.0.0.1:\(port)" }

    private let state: State
    private let listener: LoopbackListener

    private init(port: Int, state: State, listener: LoopbackListener) {
        self.port = port
        self.state = state
        self.listener = listener
    }

    /// Starts a server on 127.0.0.1 and a free port, runs `body`, and stops the server (its
    /// connections included) however `body` ends.
    ///
    /// - Parameter fallback: The answer when the script is empty.
    public static func withServer<Result>(
        answering fallback: Response = .text("ok"),
        _ body: (LoopbackHTTPServer) async throws -> Result
    ) async throws -> Result {
        let state = State(fallback: fallback)
        let listener = try await LoopbackListener.bind { HTTPConnectionHandler(state: state) }
        return try await listener.serving(LoopbackHTTPServer(port: listener.port, state: state, listener: listener), body)
    }

    /// Queues answers, played in order before the fallback.
    public func enqueue(_ responses: Response...) {
        state.locked { $0.script.append(contentsOf: responses) }
    }

    /// Answers every later request with what `responder` returns (the queue still comes first).
    public func respond(with responder: @escaping @Sendable (Request) -> Response) {
        state.locked { $0.responder = responder }
    }

    /// Every complete request received so far, in order of arrival.
    public var requests: [Request] {
        state.locked { $0.requests }
    }

    /// What the server and its connections share; guarded because connections run on several
    /// event loops while the test reads it.
    final class State: Sendable {
        struct Inner {
            var script: [Response] = []
            var fallback: Response
            var responder: (@Sendable (Request) -> Response)?
            var requests: [Request] = []
        }
        private let inner: Mutex<Inner>

        init(fallback: Response) {
            inner = Mutex(Inner(fallback: fallback))
        }

        func locked<T>(_ body: (inout Inner) -> T) -> T {
            inner.withLock { body(&$0) }
        }

        /// Records the request and picks its answer.
        func answer(_ request: Request) -> Response {
            locked { inner in
                inner.requests.append(request)
                if !inner.script.isEmpty { return inner.script.removeFirst() }
                return inner.responder?(request) ?? inner.fallback
            }
        }
    }
}

/// Reads HTTP/1.1 requests off one connection (keep-alive, pipelined, `Content-Length` or
/// chunked bodies) and writes the scripted answers.
private final class HTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: LoopbackHTTPServer.State
    private var pending: [UInt8] = []

    init(state: LoopbackHTTPServer.State) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        pending.append(contentsOf: buffer.readableBytesView)
        while true {
            let parsed: (request: LoopbackHTTPServer.Request, consumed: Int, close: Bool)?
            do {
                parsed = try HTTPRequestParser.parse(pending)
            } catch {
                write(LoopbackHTTPServer.Response.text("bad request\n", status: 400), close: true, context: context)
                return
            }
            guard let parsed else { return }
            pending.removeFirst(parsed.consumed)
            write(state.answer(parsed.request), close: parsed.close, context: context)
            if parsed.close { return }
        }
    }

    private func write(_ response: LoopbackHTTPServer.Response, close: Bool, context: ChannelHandlerContext) {
        var head = "HTTP/1.1 \(response.status) \(Self.reason(response.status))\r\n"
        for header in response.headers where header.name.lowercased() != "content-length" {
            head += "\(header.name): \(header.value)\r\n"
        }
        head += "Content-Length: \(response.body.count)\r\n"
        if close { head += "Connection: close\r\n" }
        head += "\r\n"
        var out = context.channel.allocator.buffer(capacity: head.utf8.count + response.body.count)
        out.writeString(head)
        out.writeBytes(response.body)
        if close {
            context.writeAndFlush(wrapOutboundOut(out)).whenComplete { [channel = context.channel] _ in
                channel.close(promise: nil)
            }
        } else {
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 410: "Gone"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// A minimal HTTP/1.1 request parser: enough for clients that send `Content-Length` or
/// chunked bodies.
enum HTTPRequestParser {
    struct Malformed: Error {}

    /// The first complete request in `bytes`, how many bytes it took and whether the client
    /// asked to close; nil when more bytes are needed.
    static func parse(_ bytes: [UInt8]) throws -> (request: LoopbackHTTPServer.Request, consumed: Int, close: Bool)? {
        guard let headEnd = find([13, 10, 13, 10], in: bytes, from: 0) else {
            if bytes.count > 64 * 1024 { throw Malformed() }
            return nil
        }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { throw Malformed() }
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw Malformed() }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name }?.value }

        let bodyStart = headEnd + 4
        var body: [UInt8] = []
        var end = bodyStart
        if header("transfer-encoding")?.lowercased().contains("chunked") == true {
            var cursor = bodyStart
            while true {
                guard let lineEnd = find([13, 10], in: bytes, from: cursor) else { return nil }
                let sizeText = String(decoding: bytes[cursor..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw Malformed() }
                cursor = lineEnd + 2
                if size == 0 {
                    // Trailers, if any, end with an empty line.
                    guard let trailerEnd = find([13, 10], in: bytes, from: cursor) else { return nil }
                    if trailerEnd == cursor {
                        end = cursor + 2
                        break
                    }
                    guard let blank = find([13, 10, 13, 10], in: bytes, from: cursor) else { return nil }
                    end = blank + 4
                    break
                }
                guard bytes.count >= cursor + size + 2 else { return nil }
                body.append(contentsOf: bytes[cursor..<cursor + size])
                cursor += size + 2
            }
        } else if let lengthText = header("content-length") {
            guard let length = Int(lengthText), length >= 0 else { throw Malformed() }
            guard bytes.count >= bodyStart + length else { return nil }
            body = Array(bytes[bodyStart..<bodyStart + length])
            end = bodyStart + length
        }
        let close = header("connection")?.lowercased() == "close" || requestLine[2] == "HTTP/1.0"
        let request = LoopbackHTTPServer.Request(
            method: String(requestLine[0]),
            target: String(requestLine[1]),
            headers: headers,
            body: body
        )
        return (request, end, close)
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        var i = start
        while i <= bytes.count - needle.count {
            if bytes[i] == needle[0] && Array(bytes[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }
}

/// Ports for tests that need an address where nothing listens.
public enum LoopbackPort {
    /// A port on 127.0.0.1 that was free a moment ago and has nothing listening on it now, so
    /// connecting to it is refused.
    public static func refusingConnections() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }
}
