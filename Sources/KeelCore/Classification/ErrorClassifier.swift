public import Foundation

/// Decides, once and at the boundary, how a failure is handled: ``ErrorClass/transient`` (retry
/// with backoff), ``ErrorClass/wait`` (retry after a known reset) or ``ErrorClass/permanent``
/// (escalate to a person).
///
/// The order of evidence: user rules (from `keel.yml`), then structured signals (an agent's JSON
/// result, an HTTP status and error type, `Retry-After`, reset times), then the built-in text
/// rules (``builtinRules``). When nothing matches the answer is transient with the rule
/// `default-transient`: a wrong retry costs seconds, a wrong escalation costs a person.
/// Permanent needs positive evidence.
///
/// ```swift
/// let classifier = ErrorClassifier(timeZone: TimeZone(identifier: "Europe/Paris")!)
/// classifier.classify("API Error: The socket connection was closed unexpectedly.", now: now)
/// // transient (socket-closed)
/// classifier.classify("Required status check \"check-branch-name\" is expected.", now: now)
/// // transient (merge-pending-check)
/// classifier.classify("405 At least 1 approving review is required by reviewers with write access.", now: now)
/// // permanent (merge-review-required)
/// classifier.classify("You've hit your usage limit. ... try again at 12:16 PM.", now: now)
/// // wait (try-again-at), seconds until 12:16 in Paris
/// ```
///
/// A classifier is a value: build it once (user rules compile their regexes then) and share it.
public struct ErrorClassifier: Sendable {
    /// The rule reported when nothing else matched.
    public static let defaultRule = "default-transient"
    /// The rule reported for an empty text.
    public static let emptyRule = "empty"
    /// The rule reported for agent output whose events report no failure (a successful result,
    /// an assistant message, a rate limit that was allowed).
    public static let notAnErrorRule = "not-an-error"

    /// User rules, tried before everything else, in order.
    public let extraRules: [Rule]
    /// The time zone that wall-clock reset times (`try again at 12:16 PM`) are read in.
    public let timeZone: TimeZone
    /// Built-in rules (by name) this classifier does not try. Only incident replays use it: a
    /// replay runs once with Keel's rule and once without it, to show what the rule prevents.
    public let disabledBuiltinRules: Set<String>
    /// The class given when nothing matched. Keel's is ``ErrorClass/transient``; an incident
    /// replay sets ``ErrorClass/permanent`` to run under the policy a field report had (only a
    /// listed pattern was retried).
    public let unmatchedClass: ErrorClass

    /// The built-in rules, in the order they are tried.
    public static var builtinRules: [Rule] { BuiltinRules.table.rules }

    /// Every rule, in the order they are tried: `extraRules`, then ``builtinRules``.
    public var rules: [Rule] { extraRules + BuiltinRules.table.rules }

    /// The rule reported when nothing matched: ``defaultRule``, or `default-<class>` under another policy.
    var unmatchedRule: String { unmatchedClass == .transient ? Self.defaultRule : "default-\(unmatchedClass.rawValue)" }

    /// Creates a classifier; `extraRules` take precedence over every built-in rule and signal.
    public init(extraRules: [Rule] = [], timeZone: TimeZone = .current) {
        self.init(extraRules: extraRules, timeZone: timeZone, disabling: [], unmatched: .transient)
    }

    /// Creates a classifier without some of Keel's built-in rules, or with another answer when
    /// nothing matches: the seam incident replays run without Keel's protection through.
    ///
    /// ```swift
    /// // The field report's gateway: no closed-socket pattern, and anything unlisted is permanent.
    /// let old = ErrorClassifier(disabling: ["socket-closed"], unmatched: .permanent)
    /// ```
    public init(extraRules: [Rule] = [], timeZone: TimeZone = .current, disabling: Set<String>, unmatched: ErrorClass) {
        self.extraRules = extraRules
        self.timeZone = timeZone
        self.disabledBuiltinRules = disabling
        self.unmatchedClass = unmatched
    }

    // MARK: Text

    /// Classifies an error text: a message, a log tail, or an agent's JSON output (one object
    /// or JSON Lines, whose decisive event is read as a structured signal).
    ///
    /// `now` is the instant reset times are measured from.
    public func classify(_ text: String, now: Date) -> Classification {
        let table = BuiltinRules.table
        var scannedForUserRules: ScannedText?
        if Self.startsWithBrace(text) {
            if !extraRules.isEmpty {
                scannedForUserRules = table.scanner.scan(text)
                if let decided = matchUserRules(text, scanned: scannedForUserRules) {
                    return decided
                }
            }
            if let output = AgentOutput.read(text) {
                // User rules see the failure's own text too, not only the JSON around it.
                return classify(output, now: now, userRulesChecked: false)
            }
        }
        let scanned = scannedForUserRules ?? table.scanner.scan(text)
        if scanned.folded.isEmpty {
            return Classification(class: .transient, rule: Self.emptyRule)
        }
        if let decided = matchUserRules(text, scanned: scanned) {
            return decided
        }
        return matchBuiltin(scanned, now: now) ?? Classification(class: unmatchedClass, rule: unmatchedRule)
    }

    // MARK: Signals

    /// Classifies a structured failure.
    ///
    /// For an HTTP failure: a `Retry-After` header gives `wait` (with the seconds when it reads
    /// as seconds or an HTTP-date); then the error type; then the status (5xx, 408, 409, 425 and
    /// 429 transient; 400, 401, 402, 403, 404, 413 and 422 permanent; others transient).
    /// For a Claude Code result: `error_max_turns` and `error_max_budget_usd` are permanent
    /// (`max-turns`, `max-budget`): the same run with the same limits stops the same way, and
    /// raising a limit is a person's decision. API failures read the failure text first, then the
    /// synthetic message's error type, then `api_error_status`; a transient answer becomes `wait`
    /// when a rejected rate limit's reset time is known.
    public func classify(signal: ErrorSignal, now: Date) -> Classification {
        switch signal {
        case .http(let status, let errorType, let retryAfter):
            return classify(Failure(status: status, errorType: errorType, retryAfter: retryAfter), now: now)
        case .apiError(let type, let message):
            return classify(Failure(errorType: type, message: message), now: now)
        case .claudeResult(let result):
            return classify(result, now: now, userRulesChecked: false)
        case .rateLimit(let resetsAt):
            return rateLimit(resetsAt.map { .at($0.timeIntervalSince1970) }, now: now)
        case .text(let text):
            return classify(text, now: now)
        }
    }

    private func classify(_ output: AgentOutput, now: Date, userRulesChecked: Bool) -> Classification {
        switch output {
        case .claudeResult(let result):
            return classify(result, now: now, userRulesChecked: userRulesChecked)
        case .failure(let failure):
            return classify(failure, now: now, userRulesChecked: userRulesChecked)
        case .rateLimit(let reset):
            return rateLimit(reset, now: now)
        case .noFailure:
            return Classification(class: .transient, rule: Self.notAnErrorRule)
        }
    }

    private func classify(_ result: ClaudeResult, now: Date, userRulesChecked: Bool) -> Classification {
        if !userRulesChecked, let message = result.message, let decided = matchUserRules(message) {
            return decided
        }
        guard result.failed else {
            return Classification(class: .transient, rule: Self.notAnErrorRule)
        }
        switch result.subtype {
        case "error_max_turns":
            return Classification(class: .permanent, rule: "max-turns")
        case "error_max_budget_usd":
            return Classification(class: .permanent, rule: "max-budget")
        case "error_max_structured_output_retries":
            // The CLI gave up on one schema; a fresh run often gets it right, and the breaker
            // stops a run that never does.
            return Classification(class: .transient, rule: "structured-output-retries")
        default:
            break
        }
        if result.terminalReason == "max_turns" {
            return Classification(class: .permanent, rule: "max-turns")
        }
        let fallback =
            result.terminalReason == "api_error" || result.apiErrorStatus != nil
            ? "api-error" : result.subtype == "error_during_execution" ? "execution-error" : Self.defaultRule
        let failure = Failure(
            status: result.apiErrorStatus,
            errorType: result.apiErrorType,
            message: result.message,
            reset: result.rateLimitResetsAt.map { .at($0.timeIntervalSince1970) },
            fallbackRule: fallback
        )
        return classify(failure, now: now, userRulesChecked: true)
    }

    func classify(_ failure: Failure, now: Date, userRulesChecked: Bool = false) -> Classification {
        if !userRulesChecked, let message = failure.message, let decided = matchUserRules(message) {
            return decided
        }
        if let header = failure.retryAfter?.trimmingCharacters(in: .whitespaces), !header.isEmpty {
            return Classification(class: .wait, rule: "retry-after", retryAfterSeconds: ResetTime.retryAfterSeconds(header, now: now))
        }
        var decided: Classification?
        if let message = failure.message {
            decided = matchBuiltin(BuiltinRules.table.scanner.scan(message), now: now)
        }
        if decided == nil, let type = failure.errorType?.lowercased(), let known = BuiltinRules.errorTypes[type],
            !disabledBuiltinRules.contains(known.rule)
        {
            decided = Classification(class: known.class, rule: known.rule)
        }
        if decided == nil, let status = failure.status {
            decided = statusRule(status)
        }
        let result = decided ?? Classification(class: unmatchedClass, rule: unmatchedClass == .transient ? failure.fallbackRule : unmatchedRule)
        if result.class == .transient, let reset = failure.reset {
            return rateLimit(reset, now: now)
        }
        return result
    }

    private func rateLimit(_ reset: RateLimitReset?, now: Date) -> Classification {
        switch reset {
        case .at(let unix):
            return Classification(class: .wait, rule: "rate-limit-reset", retryAfterSeconds: ResetTime.seconds(untilUnixTime: unix, from: now))
        case .unreadable:
            return Classification(class: .wait, rule: "rate-limit-reset")
        case nil:
            return Classification(class: .transient, rule: "rate-limit")
        }
    }

    // MARK: Matching

    private func matchUserRules(_ text: String, scanned: ScannedText? = nil) -> Classification? {
        guard !extraRules.isEmpty else { return nil }
        var folded = scanned
        for rule in extraRules {
            let fires: Bool
            switch rule.matcher {
            case .substring(let bytes):
                if folded == nil { folded = BuiltinRules.table.scanner.scan(text) }
                fires = folded?.range(of: bytes) != nil
            case .unicodeSubstring(let needle):
                fires = text.range(of: needle, options: [.caseInsensitive]) != nil
            case .regex(let regex):
                fires = regex.matches(text)
            case .phrases, .reset, .status:
                fires = false
            }
            if fires {
                return Classification(class: rule.class, rule: rule.name, retryAfterSeconds: rule.retryAfterSeconds)
            }
        }
        return nil
    }

    /// The first built-in rule that fires, or `nil` when none does.
    private func matchBuiltin(_ text: ScannedText, now: Date) -> Classification? {
        let table = BuiltinRules.table
        var from = 0
        while let index = table.firstCandidate(in: text, from: from) {
            let rule = table.rules[index]
            if disabledBuiltinRules.contains(rule.name) {
                from = index + 1
                continue
            }
            guard let reader = table.resets[index] else {
                return Classification(class: rule.class, rule: rule.name)
            }
            if let seconds = readReset(reader, rule: index, in: text, now: now) {
                return Classification(class: rule.class, rule: rule.name, retryAfterSeconds: seconds)
            }
            from = index + 1
        }
        for status in StatusScanner.statuses(in: text.folded) {
            if let decided = statusRule(status) {
                return decided
            }
        }
        return nil
    }

    /// The built-in rule for an HTTP status, unless it is disabled.
    private func statusRule(_ status: Int) -> Classification? {
        guard let decided = BuiltinRules.table.statusRule(status), !disabledBuiltinRules.contains(decided.rule) else { return nil }
        return decided
    }

    /// `nil` when the rule does not fire; `.some(nil)` when it fires without a readable time.
    private func readReset(_ reader: ResetReader, rule: Int, in text: ScannedText, now: Date) -> Int?? {
        let table = BuiltinRules.table
        let present = table.present(rule, in: text)
        guard let first = present.first else { return nil }
        let marker = table.scanner.phrases[first]
        switch reader {
        case .unixTimeAfterBar:
            return ResetTime.unixTimeAfter(marker, in: text, now: now)
        case .clockTime:
            guard let read = ResetTime.clockTimeAfter(marker, in: text, timeZone: timeZone, now: now) else {
                return nil
            }
            // An unreadable time counts only in a limit message; "try again at a later time" is no reset.
            if read == nil, table.present(rule, context: true, in: text).isEmpty {
                return nil
            }
            return read
        case .retryAfter:
            for id in present {
                if let seconds = ResetTime.retryAfterInText(text.folded, key: table.scanner.phrases[id], now: now, text: text) {
                    return .some(seconds)
                }
            }
            return nil
        }
    }

    private static func startsWithBrace(_ text: String) -> Bool {
        for byte in text.utf8 {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            case 0x7B: return true
            default: return false
            }
        }
        return false
    }
}
