import Foundation
import KeelCore

/// Reads aider's text output (aider has no JSON mode).
///
/// - The model comes from the banner (`Main model: anthropic/claude-sonnet-4 with diff edit
///   format, ...` or `Model: ... with ...`).
/// - Each model exchange prints `Tokens: 2.4k sent, 1.1k cache write, 86 received.` (with
///   `, N cache hit` when the cache was read) and, when aider knows the price,
///   `Cost: $0.0082 message, $0.0082 session.` on the same line or the next. Tokens are summed
///   over the exchanges, in aider's rounding (`2.4k` is 2,400); the cost is the last `session`
///   figure. ``AgentResult/turns`` counts the exchanges.
/// - aider can exit 0 after an API failure, so the output decides: an API error (`litellm.*Error`,
///   `The API provider ...`, authentication, a token limit) that no later exchange followed makes
///   the run an ``AgentResult/Outcome/error`` with those lines as its message.
/// - Output with no exchange, no edit and no error (aider died after its banner) gives nil.
public struct AiderOutputParser: AgentOutputParser {
    private var model: String?
    private var exchanges = 0
    private var sent = 0
    private var received = 0
    private var cacheWrite = 0
    private var cacheHit = 0
    private var sessionCost: Micros?
    private var edited = false
    private var pendingError: [String] = []
    private var partialTokensLine: String?

    /// Creates a parser with nothing seen yet.
    public init() {}

    public mutating func consume(line raw: String) {
        var line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        // The chat history file quotes tool output as "> ...".
        if line.hasPrefix("> ") { line.removeFirst(2) }
        if let partial = partialTokensLine {
            // A terminal-width wrap split the Tokens line.
            partialTokensLine = nil
            line = partial + " " + line
        }
        if line.hasPrefix("Tokens: ") && !line.contains(" received") {
            partialTokensLine = line
            return
        }
        if line.hasPrefix("Main model: ") || line.hasPrefix("Model: ") {
            let rest = line.drop { $0 != ":" }.dropFirst(2)
            let name = rest.range(of: " with ").map { rest[..<$0.lowerBound] } ?? rest.prefix { !$0.isWhitespace }
            if !name.isEmpty { model = String(name) }
            return
        }
        if line.hasPrefix("Tokens: ") {
            consumeTokens(line)
        }
        if let cost = line.range(of: "Cost: $") {
            consumeCost(String(line[cost.lowerBound...]))
            return
        }
        if line.hasPrefix("Tokens: ") { return }
        if line.hasPrefix("Applied edit to ") || line.hasPrefix("Commit ") {
            edited = true
            return
        }
        if Self.isAPIError(line) {
            pendingError.append(line)
        }
    }

    private mutating func consumeTokens(_ line: String) {
        exchanges += 1
        pendingError = []  // an exchange completed after any earlier error
        // "2.4k sent, 1.1k cache write, 86 received. Cost: ..." → the parts before " received".
        let body = String(line.dropFirst("Tokens: ".count)).components(separatedBy: " received")[0]
        for part in body.split(separator: ",") {
            let words = part.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
            guard words.count >= 1, let count = Self.count(String(words[0])) else { continue }
            let label = words.count > 1 ? String(words[1]) : "received"
            switch label {
            case "sent": sent = Self.add(sent, count)
            case "cache write": cacheWrite = Self.add(cacheWrite, count)
            case "cache hit": cacheHit = Self.add(cacheHit, count)
            default: received = Self.add(received, count)
            }
        }
    }

    private mutating func consumeCost(_ text: String) {
        // "Cost: $0.0082 message, $0.0082 session."
        guard let session = text.range(of: " session") else { return }
        let before = text[..<session.lowerBound]
        guard let dollar = before.lastIndex(of: "$") else { return }
        sessionCost = Money.micros(parsingUSD: String(before[before.index(after: dollar)...]))
    }

    /// A sum that saturates instead of trapping.
    static func add(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// `86` → 86, `2.4k` → 2400, `12k` → 12000, `1.5M` → 1500000.
    static func count(_ text: String) -> Int? {
        var digits = text
        var scale = 1.0
        if digits.hasSuffix("k") {
            scale = 1_000
            digits.removeLast()
        } else if digits.hasSuffix("M") {
            scale = 1_000_000
            digits.removeLast()
        }
        // Model text can imitate the line: a count beyond any real session is not one.
        guard let value = Double(digits), value.isFinite, value >= 0, value * scale < 1e15 else { return nil }
        return Int((value * scale).rounded())
    }

    /// The messages aider prints for a failed model call (aider/exceptions.py and litellm).
    static func isAPIError(_ line: String) -> Bool {
        if line.hasPrefix("litellm.") && line.contains("Error") { return true }
        let markers = [
            "The API provider has rate limited you", "The API provider's servers are down or overloaded",
            "The API provider is not able to authenticate you", "API provider is not able to authenticate",
            "has hit a token limit", "possibly exhausted context window", "Insufficient credits",
            "The API provider refused the request", "Retrying in ",
        ]
        return markers.contains { line.contains($0) }
    }

    public func finish() -> AgentResult? {
        guard exchanges > 0 || edited || !pendingError.isEmpty else { return nil }
        let failed = !pendingError.isEmpty
        let message = failed ? pendingError.filter { !$0.hasPrefix("Retrying in ") }.suffix(4).joined(separator: "\n") : nil
        return AgentResult(
            outcome: failed ? .error : .success, isError: failed, turns: exchanges > 0 ? exchanges : nil, inputTokens: sent,
            outputTokens: received, cacheReadTokens: cacheHit, cacheWriteTokens: cacheWrite, costMicros: sessionCost, model: model,
            message: failed ? (message?.isEmpty == false ? message : pendingError.last) : nil)
    }
}
