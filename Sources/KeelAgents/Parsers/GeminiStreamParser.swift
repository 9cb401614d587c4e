import Foundation

/// Reads the JSONL of `gemini -p ... -o stream-json`: `init`, `message`, `tool_use`,
/// `tool_result`, `error` and the final `result {status, error?, stats}`.
///
/// - `Maximum session turns exceeded` (an `error` event) is ``AgentResult/Outcome/maxTurns``,
///   even when the `result` that follows says `success`.
/// - A `result` with `status: "error"` is a failure; its message is `error.message`, or the
///   last `error` event's.
/// - `stats.input_tokens` includes `stats.cached` (reported as ``AgentResult/cacheReadTokens``);
///   every stats field is optional (older CLIs print fewer).
/// - The model is the one `stats.models` spent most tokens on, else `init.model` (which may be
///   an alias such as `auto`). No cost is printed: it is priced from the pricing table.
/// - No turn count is printed: ``AgentResult/turns`` is nil.
public struct GeminiStreamParser: AgentOutputParser {
    private var sessionID: String?
    private var initModel: String?
    private var statsModel: String?
    private var tokens: (input: Int, output: Int, cached: Int)?
    private var status: String?
    private var resultError: String?
    private var lastError: String?
    private var turnLimit = false
    private var reply = ""

    /// Creates a parser with nothing seen yet.
    public init() {}

    public mutating func consume(line: String) {
        guard let (type, json) = JSONField.event(line) else { return }
        switch type {
        case "init":
            sessionID = json["session_id"] as? String ?? sessionID
            initModel = json["model"] as? String ?? initModel
        case "message":
            guard json["role"] as? String == "assistant", let content = json["content"] as? String else { return }
            reply = json["delta"] as? Bool == true ? reply + content : content
        case "tool_use":
            reply = ""
        case "error":
            guard let message = json["message"] as? String, !message.isEmpty else { return }
            if message.localizedCaseInsensitiveContains("maximum session turns") { turnLimit = true }
            if json["severity"] as? String != "warning" { lastError = message }
        case "result":
            status = json["status"] as? String ?? "success"
            let error = json["error"] as? [String: Any]
            resultError = (error?["message"] as? String).flatMap { $0.isEmpty ? nil : $0 }
                ?? (error?["type"] as? String)
            if let stats = json["stats"] as? [String: Any] {
                let input = JSONField.int(stats["input_tokens"]) ?? JSONField.int(stats["input"]) ?? 0
                tokens = (input, JSONField.int(stats["output_tokens"]) ?? 0, JSONField.int(stats["cached"]) ?? 0)
                if let models = stats["models"] as? [String: Any] {
                    statsModel = models.max { a, b in
                        let ta = JSONField.int((a.value as? [String: Any])?["total_tokens"]) ?? 0
                        let tb = JSONField.int((b.value as? [String: Any])?["total_tokens"]) ?? 0
                        return ta == tb ? a.key > b.key : ta < tb
                    }?.key
                }
            }
        default:
            return
        }
    }

    public func finish() -> AgentResult? {
        let outcome: AgentResult.Outcome
        let message: String?
        if turnLimit {
            (outcome, message) = (.maxTurns, lastError ?? "Maximum session turns exceeded")
        } else if let status {
            if status == "success" {
                (outcome, message) = (.success, reply.isEmpty ? nil : reply)
            } else {
                (outcome, message) = (.error, resultError ?? lastError ?? "gemini reported status \(status)")
            }
        } else if let lastError {
            (outcome, message) = (.error, lastError)
        } else {
            return nil
        }
        let tokens = self.tokens ?? (0, 0, 0)
        return AgentResult(
            outcome: outcome, isError: outcome != .success, turns: nil, inputTokens: tokens.input, outputTokens: tokens.output,
            cacheReadTokens: tokens.cached, cacheWriteTokens: 0, costMicros: nil, model: statsModel ?? initModel, sessionID: sessionID,
            message: message)
    }
}
