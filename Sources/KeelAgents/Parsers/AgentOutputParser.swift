import Foundation
public import KeelCore

/// Turns one agent CLI's output, line by line, into one normalized ``AgentResult``.
///
/// Parsers tolerate what they do not know: blank lines, non-JSON lines, unknown event types and
/// unknown fields are skipped, so a newer CLI that adds to its format still parses.
public protocol AgentOutputParser: Sendable {
    /// Takes one line of output (without its newline).
    mutating func consume(line: String)
    /// The classified run, or nil when the output holds nothing that says how the run ended
    /// (the CLI died or was killed before it finished).
    func finish() -> AgentResult?
    /// Set once the output already settles how the run ends although the CLI goes on (Claude
    /// Code retrying a key the model endpoint refused, for minutes): why Keel may stop it now.
    /// ``finish()`` then gives that ending even without the CLI's own last word.
    var settled: String? { get }
}

extension AgentOutputParser {
    /// Nothing settles a run early unless the parser says so.
    public var settled: String? { nil }
}

/// The output formats Keel reads, one per agent CLI.
///
/// ```swift
/// var parser = AgentFormat.codex.makeParser()
/// for line in output.split(separator: "\n") { parser.consume(line: String(line)) }
/// let result = parser.finish()
/// ```
public enum AgentFormat: String, Sendable, CaseIterable {
    /// `claude -p --output-format stream-json --verbose` (also the `command` contract's result line).
    case claudeCode = "claude-code"
    /// `codex exec --json`.
    case codex
    /// `gemini -p ... -o stream-json`.
    case gemini
    /// aider's text output (`--message-file F --yes-always`).
    case aider

    /// A fresh parser for this format.
    public func makeParser() -> any AgentOutputParser {
        switch self {
        case .claudeCode: ClaudeStreamParser()
        case .codex: CodexStreamParser()
        case .gemini: GeminiStreamParser()
        case .aider: AiderOutputParser()
        }
    }

    /// Whether the format's `input_tokens` already counts the tokens read from the prompt cache
    /// (Codex, Gemini and aider do; Claude Code reports them apart).
    public var inputIncludesCacheReads: Bool { self != .claudeCode }

    /// What `result`'s tokens cost with `table`, for a run that reported no cost; nil when its
    /// model (or `fallbackModel`) has no price.
    public func price(_ result: AgentResult, with table: PricingTable, fallbackModel: String? = nil) -> Micros? {
        guard let model = result.model ?? fallbackModel, let price = table.price(for: model) else { return nil }
        // Counts come from the agent's output: never negative here, and never a trap.
        let input = max(0, result.inputTokens), cacheRead = max(0, result.cacheReadTokens), cacheWrite = max(0, result.cacheWriteTokens)
        var uncached = input
        if inputIncludesCacheReads { uncached = max(0, uncached - cacheRead) }
        if self == .aider { uncached = max(0, uncached - cacheWrite) }
        return price.cost(input: uncached, output: max(0, result.outputTokens), cacheRead: cacheRead, cacheWrite: cacheWrite)
    }
}

/// Number readers shared by the JSON parsers: JSON numbers arrive as Int or Double depending on
/// their text, and some CLIs quote them.
enum JSONField {
    static func int(_ value: Any?) -> Int? {
        if let int = value as? Int { return int }
        if let double = value as? Double, double.isFinite, double == double.rounded(), abs(double) < 9e15 {
            return Int(double)
        }
        if let string = value as? String { return Int(string) }
        return nil
    }

    static func double(_ value: Any?) -> Double? {
        if let double = value as? Double, double.isFinite { return double }
        if let int = value as? Int { return Double(int) }
        return nil
    }

    /// The line as a JSON object with a string `type`, or nil.
    static func event(_ line: String) -> (type: String, json: [String: Any])? {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("{"),
            let object = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)),
            let json = object as? [String: Any],
            let type = json["type"] as? String
        else { return nil }
        return (type, json)
    }
}
