import Foundation
import Synchronization

/// Anthropic's Messages API on loopback, as the real Claude Code CLI calls it
/// (`ANTHROPIC_BASE_URL=server.url`): `POST /v1/messages` streamed as server-sent events, with
/// the API's own error bodies. It answers from a script decided by the conversation's state, not
/// by request order, since the CLI may send side requests of its own.
///
/// A main-loop request (one offering the `Write` tool) at step *n*, where *n* is the number of
/// `tool_result` blocks in its messages, is answered with the *n*-th scripted file write (a
/// `Write` tool use whose absolute path is the file's path under the CLI's working directory,
/// read from the request's "Primary working directory: ..."), then, once every file is
/// written, with the closing text. The first ``Script/failFirst`` main-loop requests get
/// ``Script/failure``'s status and body instead; a request whose key (`x-api-key`, or
/// `Authorization: Bearer`) is not ``Script/apiKey`` gets the 401 the real API sends.
///
/// ```swift
/// try await AnthropicMessagesServer.withServer(.init(files: ["greeting-1.txt": "hello\n"])) { server in
///     // run claude with ANTHROPIC_BASE_URL=server.url ANTHROPIC_API_KEY=server.script.apiKey
///     #expect(server.messageRequests.count == 2)
/// }
/// ```
public final class AnthropicMessagesServer: Sendable {
    /// What the model does.
    public struct Script: Sendable {
        /// The files it writes, one `Write` tool use each, in this order: path relative to the working directory, content.
        public var files: [(path: String, content: String)]
        /// Its closing text.
        public var summary: String
        /// The key it accepts; any other gets a 401 `authentication_error`.
        public var apiKey: String
        /// How many main-loop requests fail before it answers.
        public var failFirst: Int
        /// What those requests get.
        public var failure: Failure
        /// The usage reported per answer (input, output tokens).
        public var usage: (input: Int, output: Int)

        /// Creates a script.
        public init(
            files: [(path: String, content: String)], summary: String = "Done.", apiKey: String = "sk-ant-keel-test",
            failFirst: Int = 0, failure: Failure = .overloaded, usage: (input: Int, output: Int) = (1200, 80)
        ) {
            self.files = files
            self.summary = summary
            self.apiKey = apiKey
            self.failFirst = failFirst
            self.failure = failure
            self.usage = usage
        }
    }

    /// An error answer as the real API gives it.
    public enum Failure: Sendable {
        /// 529 `overloaded_error`.
        case overloaded
        /// 401 `authentication_error`.
        case invalidKey

        var response: LoopbackHTTPServer.Response {
            switch self {
            case .overloaded:
                .json(#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, status: 529)
            case .invalidKey:
                .json(#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#, status: 401)
            }
        }
    }

    /// The script it plays.
    public let script: Script
    private let http: LoopbackHTTPServer
    private let failed = Mutex(0)

    /// `http://127.0.0.1:PORT`: the value for `ANTHROPIC_BASE_URL`.
    public var url: String { http.url }

    /// Every `POST /v1/messages` received, in order.
    public var messageRequests: [LoopbackHTTPServer.Request] {
        http.requests.filter { $0.method == "POST" && $0.path == "/v1/messages" }
    }

    private init(script: Script, http: LoopbackHTTPServer) {
        self.script = script
        self.http = http
    }

    /// Starts a server playing `script` on 127.0.0.1 and a free port, runs `body`, and stops it.
    public static func withServer<Result>(
        _ script: Script, _ body: (AnthropicMessagesServer) async throws -> Result
    ) async throws -> Result {
        try await LoopbackHTTPServer.withServer(answering: .init(status: 404)) { http in
            let server = AnthropicMessagesServer(script: script, http: http)
            http.respond { server.answer($0) }
            return try await body(server)
        }
    }

    private func answer(_ request: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
        guard request.method == "POST", request.path.hasPrefix("/v1/messages") else { return .init(status: 404) }
        if request.path == "/v1/messages/count_tokens" { return .json(#"{"input_tokens":\#(script.usage.input)}"#) }
        guard request.path == "/v1/messages" else { return .init(status: 404) }
        let key = request.header("x-api-key") ?? request.header("authorization").map { String($0.dropFirst("Bearer ".count)) }
        guard key == script.apiKey else { return Failure.invalidKey.response }
        guard let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            return .json(#"{"type":"error","error":{"type":"invalid_request_error","message":"body is not JSON"}}"#, status: 400)
        }
        let model = body["model"] as? String ?? "claude-sonnet-4-5"
        let tools = (body["tools"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        guard tools.contains("Write") else {
            // A side request (a title, a quota check): a short text.
            return Self.stream(model: model, blocks: [.text("ok")], stop: "end_turn", usage: (10, 2))
        }
        let failNow = failed.withLock { count in
            guard count < script.failFirst else { return false }
            count += 1
            return true
        }
        if failNow { return script.failure.response }

        let step = Self.toolResults(in: body)
        guard step < script.files.count else {
            return Self.stream(model: model, blocks: [.text(script.summary)], stop: "end_turn", usage: script.usage)
        }
        guard let directory = Self.workingDirectory(in: request.text) else {
            return .json(#"{"type":"error","error":{"type":"invalid_request_error","message":"no Primary working directory in the request"}}"#, status: 400)
        }
        let file = script.files[step]
        let input: [String: Any] = ["file_path": directory + "/" + file.path, "content": file.content]
        return Self.stream(model: model, blocks: [.toolUse(id: "toolu_keel_\(step + 1)", name: "Write", input: input)], stop: "tool_use", usage: script.usage)
    }

    /// The number of `tool_result` blocks in the request's messages: the conversation's step.
    static func toolResults(in body: [String: Any]) -> Int {
        let messages = body["messages"] as? [[String: Any]] ?? []
        return messages.reduce(0) { count, message in
            count + ((message["content"] as? [[String: Any]])?.filter { $0["type"] as? String == "tool_result" }.count ?? 0)
        }
    }

    /// The directory after "Primary working directory: " in the request (Claude Code 2.1.327 puts
    /// its environment in a message, earlier versions in the system prompt): read off the raw JSON,
    /// up to the escaped line break or the string's end.
    static func workingDirectory(in request: String) -> String? {
        guard let marker = request.range(of: "Primary working directory: ") else { return nil }
        let path = request[marker.upperBound...].prefix { $0 != "\\" && $0 != "\"" }.trimmingCharacters(in: .whitespaces)
        return path.isEmpty ? nil : path
    }

    enum Block {
        case text(String)
        case toolUse(id: String, name: String, input: [String: Any])
    }

    /// One message as the streaming API sends it: `message_start`, each block's start, delta and
    /// stop, `message_delta` with the stop reason and usage, `message_stop`.
    static func stream(model: String, blocks: [Block], stop: String, usage: (input: Int, output: Int)) -> LoopbackHTTPServer.Response {
        var events: [[String: Any]] = [
            [
                "type": "message_start",
                "message": [
                    "id": "msg_keel_\(UUID().uuidString.prefix(8))", "type": "message", "role": "assistant", "model": model,
                    "content": [Any](), "stop_reason": NSNull(), "stop_sequence": NSNull(),
                    "usage": ["input_tokens": usage.input, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1],
                ] as [String: Any],
            ]
        ]
        for (index, block) in blocks.enumerated() {
            switch block {
            case .text(let text):
                events.append(["type": "content_block_start", "index": index, "content_block": ["type": "text", "text": ""]])
                events.append(["type": "content_block_delta", "index": index, "delta": ["type": "text_delta", "text": text]])
            case .toolUse(let id, let name, let input):
                let json = String(decoding: (try? JSONSerialization.data(withJSONObject: input, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
                events.append([
                    "type": "content_block_start", "index": index,
                    "content_block": ["type": "tool_use", "id": id, "name": name, "input": [String: Any]()] as [String: Any],
                ])
                events.append(["type": "content_block_delta", "index": index, "delta": ["type": "input_json_delta", "partial_json": json]])
            }
            events.append(["type": "content_block_stop", "index": index])
        }
        events.append([
            "type": "message_delta", "delta": ["stop_reason": stop, "stop_sequence": NSNull()] as [String: Any],
            "usage": ["output_tokens": usage.output],
        ])
        events.append(["type": "message_stop"])
        let body = events.map { event in
            let data = String(decoding: (try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
            return "event: \(event["type"] as? String ?? "")\ndata: \(data)\n\n"
        }.joined()
        return .init(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")], body: body)
    }
}
