import Foundation

/// The reviewer agent's verdict: the JSON object its final message must contain,
/// `{"verdict": "APPROVE"|"CHANGES_REQUESTED"|"PARTIAL", "items": [...], "confidence": 0..1}`.
public struct ReviewVerdict: Sendable, Equatable {
    public enum Decision: String, Sendable, Equatable, CaseIterable {
        case approve = "APPROVE"
        case changesRequested = "CHANGES_REQUESTED"
        case partial = "PARTIAL"
    }

    public var decision: Decision
    /// The action items, as text (objects are rendered from their `description`/`text`/`item`
    /// and `file` fields).
    public var items: [String]
    public var confidence: Double

    public init(decision: Decision, items: [String], confidence: Double) {
        self.decision = decision
        self.items = items
        self.confidence = confidence
    }

    /// Why a reviewer's output is not a verdict.
    public struct Unreadable: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// Reads the last JSON object with a `verdict` key in `text` (fenced or bare, amid prose).
    ///
    /// - Throws: ``Unreadable`` for no such object (truncated JSON, empty output, a
    ///   natural-language answer), an unknown verdict, a missing or out-of-range confidence, or
    ///   a request for changes with no items.
    public static func parse(_ text: String) throws(Unreadable) -> ReviewVerdict {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw Unreadable(reason: "the reviewer's final message is empty") }
        guard let object = JSONObjects.last(in: trimmed, withKey: "verdict") else {
            let kind = trimmed.contains("{") ? "no complete JSON object with a \"verdict\" key (truncated JSON?)" : "no JSON verdict, only prose"
            throw Unreadable(reason: "\(kind) in the reviewer's final message: \"\(trimmed.prefix(120))\"")
        }
        let raw = (object["verdict"] as? String)?.trimmingCharacters(in: .whitespaces).uppercased() ?? ""
        guard let decision = Decision(rawValue: raw) else {
            throw Unreadable(reason: "verdict \"\(object["verdict"].map { "\($0)" } ?? "")\" is not APPROVE, CHANGES_REQUESTED or PARTIAL")
        }
        guard let confidence = JSONField.double(object["confidence"]), (0...1).contains(confidence) else {
            throw Unreadable(reason: "\"confidence\" must be a number from 0 to 1, found \(object["confidence"].map { "\($0)" } ?? "nothing")")
        }
        let items = (object["items"] as? [Any] ?? []).compactMap(Self.itemText)
        if decision != .approve && items.isEmpty {
            throw Unreadable(reason: "verdict \(decision.rawValue) lists no items: nothing to send back to the developer")
        }
        return ReviewVerdict(decision: decision, items: items, confidence: confidence)
    }

    private static func itemText(_ item: Any) -> String? {
        if let text = item as? String { return text.isEmpty ? nil : text }
        guard let object = item as? [String: Any] else { return nil }
        let text = ["description", "text", "item", "summary", "title"].lazy.compactMap { object[$0] as? String }.first
        let file = (object["file"] ?? object["path"]) as? String
        switch (text, file) {
        case let (text?, file?): return "\(file): \(text)"
        case let (text?, nil): return text
        case let (nil, file?): return file
        default: return nil
        }
    }
}
