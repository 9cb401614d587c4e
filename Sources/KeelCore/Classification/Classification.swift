/// What the classifier decided about one error: how to handle it, which rule said so and, for
/// ``ErrorClass/wait``, how long until the reset when that is known.
///
/// It encodes as the object `keel classify` prints; `retry_after_seconds` is present only when
/// known:
///
/// ```swift
/// let verdict = ErrorClassifier().classify("Claude AI usage limit reached|1755615600", now: now)
/// verdict.jsonText  // {"class":"wait","rule":"usage-limit-reset","retry_after_seconds":3600}
/// ```
public struct Classification: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// How the failure is handled: retry with backoff, wait for the reset, or escalate.
    public var `class`: ErrorClass
    /// The name of the rule that decided, e.g. `merge-pending-check` or `default-transient`.
    public var rule: String
    /// Seconds until the reset (never negative); `nil` when no reset time is known.
    public var retryAfterSeconds: Int?

    /// Creates a classification.
    public init(class: ErrorClass, rule: String, retryAfterSeconds: Int? = nil) {
        self.class = `class`
        self.rule = rule
        self.retryAfterSeconds = retryAfterSeconds
    }

    enum CodingKeys: String, CodingKey {
        case `class`
        case rule
        case retryAfterSeconds = "retry_after_seconds"
    }

    /// Decodes the object `keel classify` prints.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.class = try container.decode(ErrorClass.self, forKey: .class)
        self.rule = try container.decode(String.self, forKey: .rule)
        self.retryAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds)
    }

    /// Encodes as `keel classify` prints it, leaving out `retry_after_seconds` when unknown.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.class, forKey: .class)
        try container.encode(rule, forKey: .rule)
        try container.encodeIfPresent(retryAfterSeconds, forKey: .retryAfterSeconds)
    }

    /// One line of compact JSON with the keys in a fixed order (`class`, `rule`,
    /// `retry_after_seconds`), without a trailing newline.
    ///
    /// Written by hand rather than with `JSONEncoder`: `keel classify --lines` prints one of these
    /// per input line, and the encoder's cost would dominate.
    public var jsonText: String {
        var out = "{\"class\":\""
        out += self.class.rawValue
        out += "\",\"rule\":"
        Self.appendJSONString(rule, to: &out)
        if let retryAfterSeconds {
            out += ",\"retry_after_seconds\":"
            out += String(retryAfterSeconds)
        }
        out += "}"
        return out
    }

    /// `wait (try-again-at, retry after 960 s)`, for logs and test failures.
    public var description: String {
        retryAfterSeconds.map { "\(self.class.rawValue) (\(rule), retry after \($0) s)" } ?? "\(self.class.rawValue) (\(rule))"
    }

    /// Appends `text` as a JSON string literal.
    static func appendJSONString(_ text: String, to out: inout String) {
        JSONString.append(text, to: &out)
    }
}
