import Foundation

/// A failure with whatever is known about it besides its text.
struct Failure {
    var status: Int?
    var errorType: String?
    /// A raw `Retry-After` header value.
    var retryAfter: String?
    var message: String?
    /// A rate-limit reset reported alongside the failure.
    var reset: RateLimitReset?
    /// The rule reported when nothing more specific matches.
    var fallbackRule = ErrorClassifier.defaultRule
}

/// When a rate limit resets, as an agent reported it.
enum RateLimitReset: Equatable {
    /// Unix seconds (or milliseconds).
    case at(Double)
    /// A reset was reported, but not as a number.
    case unreadable
}

/// What a piece of agent output in JSON (one object, or JSON Lines) says about how the run ended.
enum AgentOutput {
    case claudeResult(ClaudeResult)
    case failure(Failure)
    case rateLimit(RateLimitReset)
    /// Recognised events, none of which reports a failure.
    case noFailure

    /// Reads Claude Code (`json`, `stream-json`), Codex (`exec --json`) and Gemini CLI
    /// (`json`, `stream-json`) output, Anthropic error bodies and GitHub error bodies; `nil` when
    /// no line is a JSON object of a known shape.
    ///
    /// In a whole transcript the decisive line wins: the final `result`, else Codex's
    /// `turn.failed`, else the last error event, else a rejected rate limit.
    static func read(_ text: String) -> AgentOutput? {
        var recognised = false
        var result: ClaudeResult?
        var synthetic: (type: String?, text: String?)?
        var rejected: RateLimitReset?
        var turnFailed: Failure?
        var lastError: Failure?
        var resultFailure: Failure?
        var resultSucceeded = false

        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            guard trimmed.first == "{",
                let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any]
            else { continue }
            let type = object["type"] as? String
            switch type {
            case "result":
                if object["subtype"] != nil || object["is_error"] != nil {
                    recognised = true
                    result = claudeResult(object)
                } else if let status = object["status"] as? String {
                    // Gemini CLI stream-json: {"type":"result","status":"success"|"error","error"?:{...}}
                    recognised = true
                    if status == "success", object["error"] == nil {
                        resultSucceeded = true
                    } else {
                        resultFailure = failure(fromErrorObject: object["error"]) ?? Failure(message: nil)
                    }
                }
            case "rate_limit_event":
                recognised = true
                let info = object["rate_limit_info"] as? [String: Any] ?? [:]
                if info["status"] as? String == "rejected" {
                    rejected = info["resetsAt"].map { number($0).map(RateLimitReset.at) ?? .unreadable } ?? .unreadable
                }
            case "assistant":
                recognised = true
                if object["is_api_error_message"] as? Bool == true {
                    synthetic = (object["error"] as? String, assistantText(object))
                }
            case "turn.failed":
                recognised = true
                turnFailed = Failure(message: (object["error"] as? [String: Any])?["message"] as? String)
            case "error":
                recognised = true
                // Gemini CLI marks non-fatal ones `"severity":"warning"`.
                if object["severity"] as? String != "warning" {
                    lastError = failure(fromErrorObject: object["error"]) ?? Failure(message: object["message"] as? String)
                }
            case "system", "user", "stream_event", "thread.started", "turn.started", "turn.completed", "item.started",
                "item.updated", "item.completed", "init", "message", "tool_use", "tool_result":
                recognised = true
            case nil:
                if let body = object["error"] as? [String: Any] {
                    // Gemini CLI json: {"session_id", "response", "stats", "error": {type, message, code}}
                    recognised = true
                    lastError = failure(fromErrorObject: body)
                } else if let message = object["message"] as? String,
                    object["documentation_url"] != nil || object["errors"] != nil || object["status"] != nil
                {
                    // GitHub REST error body.
                    recognised = true
                    lastError = Failure(status: object["status"].flatMap(number).map { Int($0) }, message: message)
                } else if object["response"] != nil, object["session_id"] != nil {
                    recognised = true
                    resultSucceeded = true
                }
            default:
                continue
            }
        }

        if var result {
            guard result.failed else { return .noFailure }
            if result.apiErrorType == nil { result.apiErrorType = synthetic?.type }
            if result.message == nil { result.message = synthetic?.text }
            if case .at(let seconds) = rejected, result.rateLimitResetsAt == nil {
                result.rateLimitResetsAt = Date(timeIntervalSince1970: seconds >= 100_000_000_000 ? seconds / 1000 : seconds)
            }
            return .claudeResult(result)
        }
        if var failure = turnFailed ?? resultFailure ?? lastError {
            failure.reset = failure.reset ?? rejected
            return .failure(failure)
        }
        if resultSucceeded { return .noFailure }
        if let rejected { return .rateLimit(rejected) }
        if let synthetic {
            return .failure(Failure(errorType: synthetic.type, message: synthetic.text))
        }
        return recognised ? .noFailure : nil
    }

    private static func claudeResult(_ object: [String: Any]) -> ClaudeResult {
        let errors = (object["errors"] as? [Any] ?? []).compactMap { $0 as? String }.filter { !$0.isEmpty }
        let resultText = object["result"] as? String
        return ClaudeResult(
            subtype: object["subtype"] as? String,
            isError: object["is_error"] as? Bool ?? false,
            terminalReason: object["terminal_reason"] as? String,
            apiErrorStatus: object["api_error_status"].flatMap(number).map { Int($0) },
            message: errors.isEmpty ? resultText : errors.joined(separator: "\n")
        )
    }

    private static func failure(fromErrorObject value: Any?) -> Failure? {
        guard let body = value as? [String: Any] else {
            return (value as? String).map { Failure(message: $0) }
        }
        return Failure(
            status: body["code"].flatMap(number).map { Int($0) },
            errorType: body["type"] as? String,
            message: body["message"] as? String
        )
    }

    private static func assistantText(_ object: [String: Any]) -> String? {
        let content = (object["message"] as? [String: Any])?["content"] as? [Any] ?? []
        let texts = content.compactMap { ($0 as? [String: Any])?["text"] as? String }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }

    /// A JSON number, or a string holding one (`"status": "405"`).
    private static func number(_ value: Any) -> Double? {
        if let int = value as? Int { return Double(int) }
        if let double = value as? Double { return double.isFinite ? double : nil }
        if let string = value as? String { return Double(string.trimmingCharacters(in: .whitespaces)) }
        return nil
    }
}
