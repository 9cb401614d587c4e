import Foundation
import KeelCore

/// What one coding-agent run produced, classified from the agent's own output.
public struct AgentResult: Sendable, Equatable, Codable {
    /// How the run ended.
    public enum Outcome: String, Sendable, Codable {
        /// The agent finished its task.
        case success
        /// The agent stopped at its turn limit.
        case maxTurns = "max_turns"
        /// Anything else: an API error, an execution error, a budget stop.
        case error
    }

    /// How the run ended; the classification to act on.
    public var outcome: Outcome
    /// True when the run failed: the agent's own `is_error`, or any outcome other than
    /// ``Outcome/success`` (Claude Code reports some failures with `is_error: false`).
    public var isError: Bool
    /// Turns the agent reports (`num_turns`).
    public var turns: Int?
    /// Input tokens (`usage.input_tokens` of the final result).
    public var inputTokens: Int
    /// Output tokens (`usage.output_tokens`).
    public var outputTokens: Int
    /// Tokens read from the prompt cache (`usage.cache_read_input_tokens`).
    public var cacheReadTokens: Int
    /// Tokens written to the prompt cache (`usage.cache_creation_input_tokens`).
    public var cacheWriteTokens: Int
    /// The reported cost in integer micro-USD (`total_cost_usd`, rounded half up).
    public var costMicros: Int64?
    /// The model, from `system/init` or the first real assistant message.
    public var model: String?
    /// The agent's session id, for `--resume`.
    public var sessionID: String?
    /// The result text on success; on failure the error text (`errors`, the result text, or
    /// the synthetic API-error message).
    public var message: String?
    /// The HTTP status of an API failure (`api_error_status`), when reported.
    public var apiErrorStatus: Int?
    /// Why the agent loop ended (`terminal_reason`: `completed`, `max_turns`, `api_error`, ...).
    public var terminalReason: String?
    /// When a rejected rate limit resets (Unix seconds), from the last `rate_limit_event`
    /// when its status is `rejected`.
    public var rateLimitResetsAt: Int?

    /// Creates a result (parsers make these; tests and fakes may too).
    public init(
        outcome: Outcome,
        isError: Bool,
        turns: Int? = nil,
        inputTokens: Int = 0,
        outputTokens: Int = 0,
        cacheReadTokens: Int = 0,
        cacheWriteTokens: Int = 0,
        costMicros: Int64? = nil,
        model: String? = nil,
        sessionID: String? = nil,
        message: String? = nil,
        apiErrorStatus: Int? = nil,
        terminalReason: String? = nil,
        rateLimitResetsAt: Int? = nil
    ) {
        self.outcome = outcome
        self.isError = isError
        self.turns = turns
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cacheReadTokens = cacheReadTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.costMicros = costMicros
        self.model = model
        self.sessionID = sessionID
        self.message = message
        self.apiErrorStatus = apiErrorStatus
        self.terminalReason = terminalReason
        self.rateLimitResetsAt = rateLimitResetsAt
    }
}

/// Reads the output of `claude -p --output-format stream-json --verbose`, line by line, and
/// classifies the run from the final `result` line.
///
/// Exit codes of Claude Code are unreliable (0 after an API error, 1 after a successful run
/// whose MCP server failed), so the JSON decides: any `subtype` other than `success` is a
/// failure whatever `is_error` says, and `success` with `is_error: true` is an API error.
///
/// ```swift
/// var parser = ClaudeStreamParser()
/// for line in try String(contentsOfFile: transcriptPath, encoding: .utf8).split(separator: "\n") {
///     parser.consume(line: String(line))
/// }
/// guard let result = parser.finish() else { /* no result line: the CLI died early */ }
/// if result.outcome == .error, let resetsAt = result.rateLimitResetsAt { /* wait, then retry */ }
/// ```
public struct ClaudeStreamParser: AgentOutputParser {
    private var initModel: String?
    private var assistantModel: String?
    private var initSessionID: String?
    private var syntheticErrorText: String?
    private var rateLimitResetsAt: Int?
    private var result: AgentResult?
    /// The first `api_retry` of a refused key: its status and error.
    private var refusedKey: (status: Int?, error: String)?

    /// Creates a parser with nothing seen yet.
    public init() {}

    /// Takes one line of stdout. Blank lines, non-JSON lines, unknown types and unknown
    /// fields are ignored.
    public mutating func consume(line: String) {
        guard let (type, json) = JSONField.event(line) else { return }

        switch type {
        case "system":
            if json["subtype"] as? String == "init" {
                initModel = (json["model"] as? String) ?? initModel
                initSessionID = (json["session_id"] as? String) ?? initSessionID
            } else if json["subtype"] as? String == "api_retry", refusedKey == nil {
                // The CLI retries even a refused key (ten times by default, for minutes); a key
                // does not become valid by waiting.
                let status = JSONField.int(json["error_status"])
                let error = json["error"] as? String ?? ""
                if status == 401 || status == 403 || error == "authentication_failed" {
                    refusedKey = (status, error.isEmpty ? "authentication_failed" : error)
                }
            }
        case "assistant":
            consumeAssistant(json)
        case "rate_limit_event":
            guard let info = json["rate_limit_info"] as? [String: Any] else { return }
            rateLimitResetsAt = info["status"] as? String == "rejected" ? JSONField.int(info["resetsAt"]) : nil
        case "result":
            result = makeResult(json)
        default:
            return
        }
    }

    /// The classified run, or nil when no `result` line was seen (the CLI died or was killed
    /// before finishing).
    public func finish() -> AgentResult? {
        guard var result = result ?? refusedKeyResult else { return nil }
        result.model = initModel ?? assistantModel
        result.sessionID = result.sessionID ?? initSessionID
        if result.outcome != .success, result.message == nil {
            result.message = syntheticErrorText
        }
        result.rateLimitResetsAt = rateLimitResetsAt
        return result
    }

    /// Why the run may stop before its result line: the model endpoint refused the key.
    public var settled: String? {
        guard result == nil, let refusedKey else { return nil }
        return "the model endpoint refused the key (\(refusedKey.status.map { "HTTP \($0) " } ?? "")\(refusedKey.error)) and Claude Code was retrying it"
    }

    /// The ending of a run stopped at its first retry of a refused key.
    private var refusedKeyResult: AgentResult? {
        guard let refusedKey else { return nil }
        return AgentResult(
            outcome: .error, isError: true, costMicros: 0,
            message: "API Error: \(refusedKey.status.map(String.init) ?? "") \(refusedKey.error): the model endpoint refused the key;"
                + " Keel stopped Claude Code's retries (a key does not become valid by waiting): check ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN",
            apiErrorStatus: refusedKey.status, terminalReason: "api_error")
    }

    private mutating func consumeAssistant(_ json: [String: Any]) {
        let message = json["message"] as? [String: Any]
        let model = message?["model"] as? String
        let synthetic = model == "<synthetic>" || json["is_api_error_message"] as? Bool == true
        if synthetic {
            let texts = (message?["content"] as? [[String: Any]] ?? []).compactMap { block in
                block["type"] as? String == "text" ? block["text"] as? String : nil
            }
            let text = texts.joined(separator: "\n")
            syntheticErrorText = text.isEmpty ? (json["error"] as? String) : text
        } else if assistantModel == nil, let model {
            assistantModel = model
        }
    }

    private func makeResult(_ json: [String: Any]) -> AgentResult {
        let subtype = json["subtype"] as? String
        var reportedError = json["is_error"] as? Bool ?? false
        var outcome: AgentResult.Outcome
        switch subtype {
        case "success": outcome = reportedError ? .error : .success
        case "error_max_turns": outcome = .maxTurns
        default: outcome = .error
        }
        // Headless Claude Code refuses what its permission mode does not allow and still reports
        // "success": a run that was refused a tool did not do what it was asked.
        let denied = Self.deniedTools(json["permission_denials"])
        if !denied.isEmpty {
            outcome = .error
            reportedError = true
        }

        let resultText = json["result"] as? String
        let errors = (json["errors"] as? [Any] ?? []).compactMap { $0 as? String }.filter { !$0.isEmpty }
        let message: String?
        if !denied.isEmpty {
            message =
                "permission denied: Claude Code was refused \(denied.joined(separator: ", ")) (permission_denials), so it could not do the task; "
                + "let it edit its clone headless: --permission-mode acceptEdits and --allowedTools for the tools it needs in agent.command"
        } else if outcome == .success {
            message = resultText
        } else if !errors.isEmpty {
            message = errors.joined(separator: "\n")
        } else if let resultText, !resultText.isEmpty {
            message = resultText
        } else {
            message = nil
        }

        let usage = json["usage"] as? [String: Any] ?? [:]
        let cost = JSONField.double(json["total_cost_usd"]) ?? JSONField.double(json["cost_usd"]) ?? JSONField.double(json["total_cost"])
        return AgentResult(
            outcome: outcome,
            isError: reportedError || outcome != .success,
            turns: JSONField.int(json["num_turns"]),
            inputTokens: JSONField.int(usage["input_tokens"]) ?? 0,
            outputTokens: JSONField.int(usage["output_tokens"]) ?? 0,
            cacheReadTokens: JSONField.int(usage["cache_read_input_tokens"]) ?? 0,
            cacheWriteTokens: JSONField.int(usage["cache_creation_input_tokens"]) ?? 0,
            costMicros: cost.flatMap(Self.micros),
            sessionID: json["session_id"] as? String,
            message: message,
            apiErrorStatus: JSONField.int(json["api_error_status"]),
            terminalReason: json["terminal_reason"] as? String
        )
    }

    /// What a result's `permission_denials` (`[{"tool_name": "Write", "tool_use_id": ..., "tool_input": {...}}]`)
    /// refused, each once, in order: the tool and its file or command (`Write /repo/hello.txt`,
    /// `Bash rm -rf build`), at most five and how many more.
    static func deniedTools(_ value: Any?) -> [String] {
        var tools: [String] = []
        for denial in value as? [Any] ?? [] {
            let denial = denial as? [String: Any] ?? [:]
            let name = denial["tool_name"] as? String ?? "a tool"
            // What it was refused: the file or the command, so a person sees the reason.
            let input = denial["tool_input"] as? [String: Any] ?? [:]
            let target = ["file_path", "notebook_path", "path", "command", "pattern"].lazy.compactMap { input[$0] as? String }.first
            let entry = target.map { "\(name) \($0.count > 120 ? $0.prefix(117) + "..." : $0)" } ?? name
            if !tools.contains(entry) { tools.append(entry) }
        }
        return tools.count > 5 ? tools.prefix(5) + ["\(tools.count - 5) more"] : tools
    }

    /// USD to micro-USD, rounded half up, in decimal so that 0.24722425 gives 247224 and
    /// 0.0000005 gives 1 (binary floating point would land either side of the half).
    static func micros(_ usd: Double) -> Int64? {
        guard usd.isFinite else { return nil }
        return Money.micros(parsingUSD: "\(usd)")
    }
}
