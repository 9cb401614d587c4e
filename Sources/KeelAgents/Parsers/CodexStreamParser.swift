import Foundation

/// Reads the JSONL of `codex exec --json`: `thread.started`, `turn.started`, `item.*`,
/// `turn.completed {usage}`, `turn.failed {error}` and `error`.
///
/// - A top-level `error` event is not the end: Codex prints one for every retry it makes
///   (`Reconnecting... 1/5 (...)`). Only `turn.failed`, or a stream that ends with errors and
///   no `turn.completed`, is a failure.
/// - `usage` is cumulative for the thread, so the last one counts; `input_tokens` includes
///   `cached_input_tokens` (reported as ``AgentResult/cacheReadTokens``).
/// - No cost and no model are printed: the cost is priced from the pricing table with the
///   configured model (a `model rerouted: A -> B` notice names the model actually used).
/// - ``AgentResult/turns`` counts `turn.completed` and `turn.failed` events.
public struct CodexStreamParser: AgentOutputParser {
    private var threadID: String?
    private var usage: (input: Int, cached: Int, output: Int)?
    private var turns = 0
    private var completed = false
    private var failure: String?
    private var lastError: String?
    private var lastMessage: String?
    private var model: String?

    /// Creates a parser with nothing seen yet.
    public init() {}

    public mutating func consume(line: String) {
        guard let (type, json) = JSONField.event(line) else { return }
        switch type {
        case "thread.started":
            threadID = json["thread_id"] as? String ?? threadID
        case "turn.completed":
            turns += 1
            completed = true
            failure = nil
            if let usage = json["usage"] as? [String: Any] {
                self.usage = (
                    JSONField.int(usage["input_tokens"]) ?? 0, JSONField.int(usage["cached_input_tokens"]) ?? 0,
                    JSONField.int(usage["output_tokens"]) ?? 0
                )
            }
        case "turn.failed":
            turns += 1
            completed = false
            let error = json["error"] as? [String: Any]
            failure = (error?["message"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? lastError ?? "turn failed"
        case "error":
            if let message = json["message"] as? String, !message.isEmpty { noteError(message) }
        case "item.completed", "item.updated", "item.started":
            guard let item = json["item"] as? [String: Any] else { return }
            switch item["type"] as? String {
            case "agent_message" where type == "item.completed":
                lastMessage = item["text"] as? String ?? lastMessage
            case "error":
                if let message = item["message"] as? String { noteError(message) }
            default:
                return
            }
        default:
            return
        }
    }

    private mutating func noteError(_ message: String) {
        // "model rerouted: gpt-5 -> gpt-5-mini (reason)" names the model that ran.
        if let range = message.range(of: "model rerouted: "), let arrow = message.range(of: " -> ", range: range.upperBound..<message.endIndex) {
            let rest = message[arrow.upperBound...]
            model = String(rest.prefix { !$0.isWhitespace && $0 != "(" })
            return
        }
        lastError = message
    }

    public func finish() -> AgentResult? {
        let outcome: AgentResult.Outcome
        let message: String?
        if let failure {
            (outcome, message) = (.error, failure)
        } else if completed {
            (outcome, message) = (.success, lastMessage)
        } else if let lastError {
            // Errors and no terminal event: Codex gave up (or was stopped) after them.
            (outcome, message) = (.error, lastError)
        } else {
            return nil
        }
        let usage = self.usage ?? (0, 0, 0)
        return AgentResult(
            outcome: outcome, isError: outcome != .success, turns: turns > 0 ? turns : nil, inputTokens: usage.input,
            outputTokens: usage.output, cacheReadTokens: usage.cached, cacheWriteTokens: 0, costMicros: nil, model: model,
            sessionID: threadID, message: message)
    }
}
