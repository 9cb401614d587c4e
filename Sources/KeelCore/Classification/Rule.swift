import Foundation

/// One row of the classifier's table: a name, the class it assigns, and what it looks for.
///
/// The built-in rows live in ``ErrorClassifier/builtinRules``. People add their own in
/// `keel.yml`; those are checked before every built-in rule and before structured signals:
///
/// ```swift
/// let rules = [
///     try Rule(name: "vpn-flap", class: .transient, substring: "tun0: link down"),
///     try Rule(name: "gateway-quota", class: .wait, regex: #"quota window \d+ closed"#, retryAfterSeconds: 900),
/// ]
/// let classifier = ErrorClassifier(extraRules: rules)
/// ```
public struct Rule: Sendable, Hashable, CustomStringConvertible {
    /// What a user rule looks for; both forms ignore case.
    public enum Pattern: Sendable, Equatable, Hashable {
        /// Text that must occur in the error (whitespace runs count as one space).
        case substring(String)
        /// An ICU regular expression that must match somewhere in the error.
        case regex(String)
    }

    /// The name reported in ``Classification/rule``.
    public let name: String
    /// The class the rule assigns.
    public let `class`: ErrorClass
    /// The fixed wait a user rule reports (only with ``ErrorClass/wait``); built-in rules that
    /// read a reset time out of the text leave this `nil`.
    public let retryAfterSeconds: Int?
    /// The user pattern; `nil` for built-in rules.
    public let pattern: Pattern?
    let matcher: Matcher

    /// A user rule that fires when `pattern` occurs in the error text.
    ///
    /// Throws ``CoreError/Code/invalidRule`` for an empty name or pattern, a regex that does not
    /// compile, the class `policy` (guards produce that, not error texts), or a
    /// `retryAfterSeconds` that is negative or given with a class other than `wait`.
    public init(name: String, class errorClass: ErrorClass, pattern: Pattern, retryAfterSeconds: Int? = nil) throws(CoreError) {
        let trimmedName = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmedName.isEmpty else {
            throw CoreError(.invalidRule, "a classifier rule needs a name: it is what `keel classify` reports")
        }
        guard errorClass != .policy else {
            throw CoreError(.invalidRule, "rule \"\(trimmedName)\": class must be transient, wait or permanent (policy comes from guards)")
        }
        if let retryAfterSeconds {
            guard retryAfterSeconds >= 0 else {
                throw CoreError(.invalidRule, "rule \"\(trimmedName)\": retry_after_seconds must be 0 or more, not \(retryAfterSeconds)")
            }
            guard errorClass == .wait else {
                throw CoreError(
                    .invalidRule,
                    "rule \"\(trimmedName)\": retry_after_seconds applies only to class wait; drop it or set class: wait")
            }
        }
        switch pattern {
        case .substring(let text):
            let folded = PhraseScanner.fold(text)
            guard !folded.isEmpty else {
                throw CoreError(.invalidRule, "rule \"\(trimmedName)\": the substring is empty, so it would match every error")
            }
            if folded.allSatisfy({ $0 < 0x80 }) {
                matcher = .substring(folded)
            } else {
                matcher = .unicodeSubstring(text)
            }
        case .regex(let source):
            guard !source.isEmpty else {
                throw CoreError(.invalidRule, "rule \"\(trimmedName)\": the regex is empty, so it would match every error")
            }
            do {
                matcher = .regex(CompiledRegex(try NSRegularExpression(pattern: source, options: [.caseInsensitive])))
            } catch {
                throw CoreError(.invalidRule, "rule \"\(trimmedName)\": \(source) is not a valid regular expression (\(error))")
            }
        }
        self.name = trimmedName
        self.class = errorClass
        self.retryAfterSeconds = retryAfterSeconds
        self.pattern = pattern
    }

    /// A user rule that fires when `substring` occurs in the error text, ignoring case.
    public init(name: String, class errorClass: ErrorClass, substring: String, retryAfterSeconds: Int? = nil) throws(CoreError) {
        try self.init(name: name, class: errorClass, pattern: .substring(substring), retryAfterSeconds: retryAfterSeconds)
    }

    /// A user rule that fires when `regex` matches the error text, ignoring case.
    public init(name: String, class errorClass: ErrorClass, regex: String, retryAfterSeconds: Int? = nil) throws(CoreError) {
        try self.init(name: name, class: errorClass, pattern: .regex(regex), retryAfterSeconds: retryAfterSeconds)
    }

    init(builtin name: String, class errorClass: ErrorClass, matcher: Matcher) {
        self.name = name
        self.class = errorClass
        self.retryAfterSeconds = nil
        self.pattern = nil
        self.matcher = matcher
    }

    /// Rules are equal when they have the same name, class, wait and pattern (what `keel.yml`
    /// says); built-in rules, which have no pattern, compare by name and class.
    public static func == (lhs: Rule, rhs: Rule) -> Bool {
        lhs.name == rhs.name && lhs.class == rhs.class && lhs.retryAfterSeconds == rhs.retryAfterSeconds && lhs.pattern == rhs.pattern
    }

    /// Hashes what ``==`` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(self.class)
        hasher.combine(retryAfterSeconds)
        hasher.combine(pattern)
    }

    /// `merge-pending-check → transient`.
    public var description: String { "\(name) → \(self.class.rawValue)" }
}

/// How a rule decides whether it fires.
enum Matcher: Sendable {
    /// Built-in: phrases found by the shared ``PhraseScanner``.
    case phrases(PhraseCondition)
    /// Built-in `wait` rule that reads the reset time from the text.
    case reset(ResetReader, PhraseCondition)
    /// Built-in: an HTTP status named in the text (`API Error: 529`, `| 520:`, `403 {...}`).
    case status(ClosedRange<Int>)
    /// User: folded ASCII bytes that must occur in the folded text.
    case substring([UInt8])
    /// User: a substring with non-ASCII letters, compared with Foundation's case folding.
    case unicodeSubstring(String)
    /// User: a compiled regular expression.
    case regex(CompiledRegex)
}

/// Which reset time a built-in `wait` rule reads.
enum ResetReader: Sendable {
    /// `limit reached|1755615600`: a Unix time after the bar.
    case unixTimeAfterBar
    /// `try again at 12:16 PM`: the next such time in the classifier's time zone.
    case clockTime
    /// `Retry-After: 120`, `"retry_after":120`, `Retry-After: <HTTP-date>`.
    case retryAfter
}

/// Phrases a built-in rule needs: any of `any`; if `context` is not empty, also any of
/// `context` (for a reset rule: only when the time cannot be read); and none of `unless`.
struct PhraseCondition: Sendable {
    var any: [PhraseRef]
    var context: [PhraseRef]
    var unless: [PhraseRef]
}

/// A phrase id in the built-in scanner (a whole-word phrase has its own id).
struct PhraseRef: Sendable, Hashable {
    var id: Int
}

/// A compiled user regex.
///
/// `@unchecked Sendable`: NSRegularExpression is immutable after creation and documented as safe
/// to use from several threads at once; no one holds a mutable reference to it.
final class CompiledRegex: @unchecked Sendable {
    let regex: NSRegularExpression

    init(_ regex: NSRegularExpression) {
        self.regex = regex
    }

    func matches(_ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}

extension CoreError.Code {
    /// A classifier rule that cannot be used (no name, a bad regex, a class it may not assign).
    public static let invalidRule = CoreError.Code(name: "invalid_rule")
}
