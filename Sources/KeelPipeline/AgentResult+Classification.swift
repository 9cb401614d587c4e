public import Foundation
public import KeelAgents
public import KeelCore

extension ErrorClassifier {
    /// The class of a failed run from its normalized result: its outcome, API status and reset
    /// time first, then the message's text (any format: Claude Code, Codex, Gemini CLI, aider).
    /// A successful run classifies as not an error.
    public func classify(_ result: AgentResult, now: Date) -> Classification {
        let subtype: String =
            switch result.outcome {
            case .success: "success"
            case .maxTurns: "error_max_turns"
            case .error: result.isError && result.apiErrorStatus != nil ? "success" : "error_during_execution"
            }
        return classify(
            signal: .claudeResult(
                ClaudeResult(
                    subtype: subtype, isError: result.isError, terminalReason: result.terminalReason, apiErrorStatus: result.apiErrorStatus,
                    message: result.message, rateLimitResetsAt: result.rateLimitResetsAt.map { Date(timeIntervalSince1970: TimeInterval($0)) })),
            now: now)
    }
}
