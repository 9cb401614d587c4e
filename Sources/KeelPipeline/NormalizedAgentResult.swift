public import Foundation
public import KeelAgents
public import KeelCore

/// The normalized result `keel agent parse` prints: one JSON object with the same keys for
/// every agent CLI.
///
/// ```swift
/// let normalized = NormalizedAgentResult(result, format: .codex, pricing: config.pricing, model: "gpt-5-codex", classifier: classifier, now: Date())
/// print(normalized.json(compact: true))
/// // {"outcome":"success","is_error":false,"turns":1,"input_tokens":24763,...,"error_class":null,"message":"..."}
/// ```
public struct NormalizedAgentResult: Sendable, Equatable {
    public var result: AgentResult
    /// The reported cost, else priced from the table; nil when neither.
    public var costMicros: Micros?
    /// The result's model, else the one named for pricing.
    public var model: String?
    /// transient, wait or permanent for a failed run; nil for a successful one.
    public var errorClass: ErrorClass?

    /// Normalizes `result` of an agent printing `format`: prices it from `pricing` when it
    /// reports no cost (with `model` when its output names none), and classifies a failure.
    public init(_ result: AgentResult, format: AgentFormat, pricing: PricingTable, model: String?, classifier: ErrorClassifier, now: Date) {
        self.result = result
        self.costMicros = result.costMicros ?? format.price(result, with: pricing, fallbackModel: model)
        self.model = result.model ?? model
        self.errorClass = result.outcome == .success && !result.isError ? nil : classifier.classify(result, now: now).class
    }

    /// The object, keys in a fixed order: outcome, is_error, turns, input_tokens, output_tokens,
    /// cache_read_tokens, cache_write_tokens, cost_micros, model, session_id, error_class, message.
    /// `compact` puts it on one line; otherwise one key per line.
    public func json(compact: Bool) -> String {
        func string(_ text: String?) -> String {
            guard let text else { return "null" }
            var out = ""
            JSONString.append(text, to: &out)
            return out
        }
        func number<N: BinaryInteger>(_ value: N?) -> String { value.map { String($0) } ?? "null" }
        let fields: [(String, String)] = [
            ("outcome", string(result.outcome.rawValue)),
            ("is_error", result.isError ? "true" : "false"),
            ("turns", number(result.turns)),
            ("input_tokens", number(result.inputTokens)),
            ("output_tokens", number(result.outputTokens)),
            ("cache_read_tokens", number(result.cacheReadTokens)),
            ("cache_write_tokens", number(result.cacheWriteTokens)),
            ("cost_micros", number(costMicros)),
            ("model", string(model)),
            ("session_id", string(result.sessionID)),
            ("error_class", string(errorClass?.rawValue)),
            ("message", string(result.message)),
        ]
        if compact {
            return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        }
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}"
    }
}
