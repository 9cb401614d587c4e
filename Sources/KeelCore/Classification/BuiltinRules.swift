/// The built-in rule table, in the order rules are tried; the first that fires decides.
///
/// The order encodes the failure model (DESIGN.md): a known reset time first (`wait`); then
/// positive evidence that no retry can help (`permanent`): bad credentials, billing, a request
/// the API will always refuse, a merge policy refusal; then the GitHub merge states that clear
/// on their own; then network, overload and rate-limit wording (`transient`); then weaker
/// permanent wording; then an HTTP status named in the text. Anything else is transient
/// (`default-transient`): a wrong retry costs seconds, a wrong escalation costs a person.
///
/// Phrases are folded (lowercase, single spaces). `word(...)` phrases must stand as whole words,
/// so `expected` does not fire on `unexpected`. A few names appear twice: the unambiguous
/// wording early, a vaguer wording (`bad request`, `forbidden`) after the transient rules.
enum BuiltinRules {
    static let specs: [RuleSpec] = [
        // MARK: wait: the text says when to come back
        RuleSpec("usage-limit-reset", .wait, any: ["limit reached|"], reset: .unixTimeAfterBar),
        RuleSpec(
            "try-again-at", .wait, any: ["try again at"],
            // When the time cannot be read, only a limit message still counts as a reset.
            context: ["usage limit", "rate limit", "limit reached", "quota", "limit exceeded"], reset: .clockTime),
        RuleSpec("retry-after", .wait, any: ["retry-after", "retry_after", "retry after", "retryafter"], reset: .retryAfter),
        RuleSpec("usage-limit", .wait, any: ["usage limit", "hit your limit"]),

        // MARK: permanent: positive evidence that retrying cannot help
        RuleSpec(
            "organization-disabled", .permanent,
            any: [
                "organization has disabled", "organization has been disabled", "disabled claude subscription access",
                "oauth_org_not_allowed", "not allowed for this organization",
            ]),
        RuleSpec(
            "invalid-api-key", .permanent,
            any: [
                "invalid api key", "incorrect api key", "invalid x-api-key", "invalid_api_key", "api key not valid",
                "api_key_invalid", "check your api key", "api key is invalid", "please run /login",
            ]),
        RuleSpec(
            "auth-failed", .permanent,
            any: [
                "authentication_error", "authentication_failed", "authenticationerror", "not able to authenticate",
                "authentication failed", "invalid authentication", "invalid_grant",
            ]),
        RuleSpec(
            "permission-denied", .permanent,
            any: [
                "permission_error", "resource not accessible by integration", "resource not accessible by personal access token",
                "does not have permission", "do not have permission", "insufficient permission", "permissiondeniederror",
                "must have admin rights",
            ]),
        RuleSpec(
            "billing", .permanent,
            any: [
                "credit balance", "billing_error", "insufficient credit", "insufficient_quota", "exceeded your current quota",
                "add funds", "payment required", "insufficient funds", "out of credits", "check your plan and billing",
            ]),
        // A quota whose limit is 0 (a free tier without access) never refills.
        RuleSpec("quota-zero", .permanent, any: [word("limit: 0"), word("limit 0")], context: ["quota"]),
        RuleSpec(
            "request-too-large", .permanent,
            any: [
                "request_too_large", "request too large", "request exceeds the maximum size", "must be reduced in order to run",
                "payload too large", "request entity too large",
            ]),
        RuleSpec(
            "context-window", .permanent,
            any: [
                "prompt is too long", "prompt too long", "context window", "context_length_exceeded", "contextwindowexceeded",
                "maximum context length", "context length exceeded", "hit a token limit", "input is too long",
            ]),
        RuleSpec("output-token-limit", .permanent, any: ["output token maximum", "max_output_tokens"]),
        RuleSpec(
            "model-not-found", .permanent,
            any: [
                "issue with the selected model", "model not found", "model_not_found", "may not exist or you may not have access",
                "does not exist or you do not have access", "unknown model", "invalid model", "model does not exist",
            ]),
        RuleSpec("not-found", .permanent, any: ["not_found_error"]),
        RuleSpec("invalid-request", .permanent, any: ["invalid_request_error"]),
        RuleSpec(
            "content-policy", .permanent,
            any: [
                "content policy", "content_policy", "content filter", "content_filter", "usage policy", "usage policies",
                "responsibleaipolicyviolation", "safety system",
            ]),
        RuleSpec(
            "max-turns", .permanent,
            any: ["error_max_turns", "reached max turns", "maximum number of turns", "maximum session turns", "max turns exceeded"]),
        RuleSpec("max-budget", .permanent, any: ["error_max_budget_usd", "exceeded usd budget", "max_budget_usd"]),
        RuleSpec(
            "cli-usage", .permanent,
            any: [
                "input must be provided either through stdin", "requires --verbose", "unknown option", "unrecognized option",
                "unknown argument", "unrecognized arguments", "unexpected argument", "invalid option",
            ]),
        RuleSpec("untrusted-directory", .permanent, any: ["not inside a trusted directory", "skip-git-repo-check"]),
        RuleSpec("agent-loop", .permanent, any: ["loop detected"]),
        RuleSpec("command-not-found", .permanent, any: ["command not found", "executable file not found"]),
        RuleSpec("command-not-found", .permanent, any: [word("enoent")], context: ["spawn"]),
        RuleSpec("git-not-a-repository", .permanent, any: ["not a git repository", "does not appear to be a git repository"]),
        RuleSpec("git-publickey", .permanent, any: ["permission denied (publickey", "host key verification failed"]),
        RuleSpec(
            "git-auth", .permanent,
            any: [
                "could not read username", "could not read password", "terminal prompts disabled", "invalid username or password",
                "repository not found",
            ]),
        RuleSpec("git-auth", .permanent, any: ["denied to"], context: ["permission to"]),
        RuleSpec("push-large-files", .permanent, any: ["large files detected", word("gh001")]),
        RuleSpec("push-hook-declined", .permanent, any: ["pre-receive hook declined", "protected branch hook declined", word("gh006")]),
        RuleSpec("push-rule-violation", .permanent, any: ["changes must be made through a pull request", "cannot force-push"]),
        // Merge policy refusals: no wait makes a review or a signature appear.
        RuleSpec(
            "merge-review-required", .permanent,
            any: ["approving review", "code owner review", "review is required", "reviews are required"]),
        RuleSpec("merge-signed-commits", .permanent, any: ["verified signature", "signed commits"]),
        RuleSpec("merge-method-not-allowed", .permanent, any: ["merges are not allowed", "merge commits are not allowed"]),
        RuleSpec(
            "merge-check-failing", .permanent,
            any: [word("is failing"), word("are failing"), word("has failed"), word("have failed")],
            context: ["required status check"]),

        // MARK: transient: GitHub merge states that clear by themselves
        // "cannot lock ref ... but expected ..." is a push race, not a pending check.
        RuleSpec("push-ref-race", .transient, any: ["cannot lock ref", "stale info"]),
        // GitHub's only merge-block messages with "expected" are the pending-check ones, singular
        // ("Required status check "X" is expected.") and plural ("N of M required status checks
        // are expected."): match the bare word (seeds 001, incident 4).
        RuleSpec(
            "merge-pending-check", .transient,
            any: [word("expected"), word("is pending"), word("are pending"), word("in progress")],
            context: ["required status check", "merge", "rule violation", "protected branch", "branch protection"]),
        RuleSpec("merge-base-modified", .transient, any: ["base branch was modified"]),
        RuleSpec("merge-head-modified", .transient, any: ["head branch was modified"]),
        RuleSpec("merge-not-mergeable", .transient, any: ["not mergeable"]),

        // MARK: transient: network, overload, rate limits without a reset
        RuleSpec("overloaded", .transient, any: ["overloaded"]),
        RuleSpec(
            "rate-limit", .transient,
            any: [
                "rate_limit", "rate limit", "ratelimit", "too many requests", "tokens per min", "requests per min",
                "quota exceeded", "resource_exhausted", "resource exhausted", "throttl",
            ]),
        RuleSpec(
            "socket-closed", .transient,
            any: [
                "socket connection was closed", "socket hang up", "econnreset", "connection reset", "other side closed",
                "und_err_socket", "connection closed", "connection was closed", "epipe", "broken pipe", "econnaborted",
                "connection aborted", "kex_exchange_identification",
            ]),
        RuleSpec(
            "timeout", .transient,
            any: [
                "etimedout", "timed out", "timeout", "time-out", "origin_response_timeout", "deadline exceeded",
                "deadline_exceeded",
            ]),
        RuleSpec(
            "connection-failed", .transient,
            any: [
                "fetch failed", "econnrefused", "connection refused", "unable to connect", "connection error",
                "apiconnectionerror", "eai_again", "enotfound", "could not resolve host", "name resolution", "getaddrinfo",
                "network is unreachable", "enetunreach", "ehostunreach", "no route to host", "network error", "networkerror",
                "failed to connect", "upstream connect error", "reset before headers",
            ]),
        RuleSpec(
            "stream-disconnected", .transient,
            any: [
                "stream disconnected", "reconnecting", "unexpected disconnect", "sideband packet", "early eof",
                "remote end hung up unexpectedly", "rpc failed", "unexpected eof", "premature close",
            ]),
        RuleSpec(
            "server-error", .transient,
            any: [
                "internal server error", "internal_server_error", "internalservererror", "api_error", "server_error",
                "server error", "service unavailable", "service_unavailable", "serviceunavailable", "bad gateway",
                "badgateway", "web server is returning",
            ]),
        RuleSpec("execution-error", .transient, any: ["error_during_execution", "execution error"]),
        RuleSpec(
            "temporary", .transient,
            any: ["try again later", "temporarily unavailable", "temporary failure", "please retry", "retry later"]),

        // MARK: permanent: weaker wording, tried after the transient wording above
        RuleSpec("invalid-request", .permanent, any: ["badrequesterror", "bad request", word("invalid_request")]),
        RuleSpec("not-found", .permanent, any: ["notfounderror"]),
        RuleSpec("permission-denied", .permanent, any: ["permission denied", word("forbidden"), word("eacces")]),
        RuleSpec("auth-failed", .permanent, any: [word("unauthorized"), word("unauthenticated")]),
        RuleSpec("push-rule-violation", .permanent, any: ["rule violations"]),

        // MARK: an HTTP status named in the text
        RuleSpec("http-5xx", .transient, status: 500...599),
        RuleSpec("http-429", .transient, status: 429...429),
        RuleSpec("http-408", .transient, status: 408...408),
        RuleSpec("http-409", .transient, status: 409...409),
        RuleSpec("http-425", .transient, status: 425...425),
        RuleSpec("http-400", .permanent, status: 400...400),
        RuleSpec("http-401", .permanent, status: 401...401),
        RuleSpec("http-402", .permanent, status: 402...402),
        RuleSpec("http-403", .permanent, status: 403...403),
        RuleSpec("http-404", .permanent, status: 404...404),
        RuleSpec("http-413", .permanent, status: 413...413),
        RuleSpec("http-422", .permanent, status: 422...422),
    ]

    /// API error types (Anthropic's `error.type`, Claude Code's synthetic `error`) and the rule
    /// each one means.
    static let errorTypes: [String: (rule: String, class: ErrorClass)] = [
        "overloaded_error": ("overloaded", .transient),
        "api_error": ("server-error", .transient),
        "server_error": ("server-error", .transient),
        "internal_server_error": ("server-error", .transient),
        "timeout_error": ("timeout", .transient),
        "rate_limit_error": ("rate-limit", .transient),
        "rate_limit": ("rate-limit", .transient),
        "rate_limit_exceeded": ("rate-limit", .transient),
        "authentication_error": ("auth-failed", .permanent),
        "authentication_failed": ("auth-failed", .permanent),
        "permission_error": ("permission-denied", .permanent),
        "oauth_org_not_allowed": ("organization-disabled", .permanent),
        "billing_error": ("billing", .permanent),
        "insufficient_quota": ("billing", .permanent),
        "invalid_request_error": ("invalid-request", .permanent),
        "invalid_request": ("invalid-request", .permanent),
        "not_found_error": ("not-found", .permanent),
        "request_too_large": ("request-too-large", .permanent),
    ]

    /// The compiled table: one scanner for every phrase, and the rules pointing into it.
    static let table = BuiltinTable(specs)
}

/// A phrase in the built-in table, optionally required to stand as a whole word.
struct Phrase: Hashable, ExpressibleByStringLiteral {
    var text: String
    var word: Bool

    init(stringLiteral value: String) {
        self.text = value
        self.word = false
    }

    init(_ text: String, word: Bool) {
        self.text = text
        self.word = word
    }
}

/// A phrase that must not have a letter or digit right before or after it.
func word(_ text: String) -> Phrase { Phrase(text, word: true) }

/// A built-in rule as written in the table, before its phrases get ids.
struct RuleSpec {
    var name: String
    var errorClass: ErrorClass
    var any: [Phrase]
    var context: [Phrase]
    var unless: [Phrase]
    var reset: ResetReader?
    var status: ClosedRange<Int>?

    init(
        _ name: String, _ errorClass: ErrorClass, any: [Phrase] = [], context: [Phrase] = [], unless: [Phrase] = [],
        reset: ResetReader? = nil, status: ClosedRange<Int>? = nil
    ) {
        self.name = name
        self.errorClass = errorClass
        self.any = any
        self.context = context
        self.unless = unless
        self.reset = reset
        self.status = status
    }
}

/// The built-in rules compiled: every phrase in one ``PhraseScanner``, and each rule's phrase
/// conditions as bit masks over the phrases found, so trying the whole table is a few dozen ANDs.
///
/// A class rather than a struct so that reaching it costs one reference, not one per array.
final class BuiltinTable: Sendable {
    let scanner: PhraseScanner
    let rules: [Rule]
    /// Index of the first status rule: rules before it are phrase and reset rules.
    let firstStatusRule: Int
    /// `UInt64` words per mask.
    let words: Int
    /// Per rule, three masks of `words` words: any, context, unless.
    let masks: [UInt64]
    /// Per rule: whether the context mask is used.
    let needsContext: [Bool]
    /// Per rule: the reset reader of a `wait` rule that reads its reset time.
    let resets: [ResetReader?]
    /// Status rules: the statuses each covers and its index in `rules`.
    let statusRules: [(statuses: ClosedRange<Int>, index: Int)]

    init(_ specs: [RuleSpec]) {
        var ids: [Phrase: Int] = [:]
        var phrases: [Phrase] = []
        func ref(_ phrase: Phrase) -> PhraseRef {
            if let known = ids[phrase] {
                return PhraseRef(id: known)
            }
            ids[phrase] = phrases.count
            phrases.append(phrase)
            return PhraseRef(id: phrases.count - 1)
        }
        var rules: [Rule] = []
        var conditions: [PhraseCondition?] = []
        var resets: [ResetReader?] = []
        var statusRules: [(ClosedRange<Int>, Int)] = []
        for spec in specs {
            let condition = PhraseCondition(any: spec.any.map(ref), context: spec.context.map(ref), unless: spec.unless.map(ref))
            let matcher: Matcher
            if let status = spec.status {
                matcher = .status(status)
                statusRules.append((status, rules.count))
                conditions.append(nil)
            } else if let reset = spec.reset {
                matcher = .reset(reset, condition)
                conditions.append(condition)
            } else {
                matcher = .phrases(condition)
                conditions.append(condition)
            }
            resets.append(spec.reset)
            rules.append(Rule(builtin: spec.name, class: spec.errorClass, matcher: matcher))
        }
        let words = (phrases.count + 63) / 64
        var masks = [UInt64](repeating: 0, count: rules.count * 3 * words)
        var needsContext = [Bool](repeating: false, count: rules.count)
        for (index, condition) in conditions.enumerated() {
            guard let condition else { continue }
            precondition(!condition.any.isEmpty, "built-in rule \(rules[index].name) looks for nothing")
            for (part, refs) in [condition.any, condition.context, condition.unless].enumerated() {
                for ref in refs {
                    masks[(index * 3 + part) * words + ref.id >> 6] |= 1 << UInt64(ref.id & 63)
                }
            }
            needsContext[index] = !condition.context.isEmpty && resets[index] == nil  // a reset rule reads its context itself
        }
        self.scanner = PhraseScanner(phrases: phrases.map(\.text), wordPhrases: Set(phrases.indices.filter { phrases[$0].word }))
        self.rules = rules
        self.firstStatusRule = statusRules.first?.1 ?? rules.count
        self.words = words
        self.masks = masks
        self.needsContext = needsContext
        self.resets = resets
        self.statusRules = statusRules
        precondition(statusRules.allSatisfy { $0.1 >= firstStatusRule }, "status rules come last in the table")
    }

    /// The first phrase or reset rule whose phrase condition holds, from index `from`.
    func firstCandidate(in text: ScannedText, from: Int) -> Int? {
        guard text.anyFound else { return nil }
        return masks.withUnsafeBufferPointer { masks in
            text.found.withUnsafeBufferPointer { found in
                var index = from
                while index < firstStatusRule {
                    let base = index * 3 * words
                    if Self.intersects(found, masks, base, words),
                        !needsContext[index] || Self.intersects(found, masks, base + words, words),
                        !Self.intersects(found, masks, base + 2 * words, words)
                    {
                        return index
                    }
                    index += 1
                }
                return nil
            }
        }
    }

    /// Phrase ids of `rule`'s any-mask (or context-mask) that occur in `text`.
    func present(_ rule: Int, context: Bool = false, in text: ScannedText) -> [Int] {
        let base = (rule * 3 + (context ? 1 : 0)) * words
        var ids: [Int] = []
        for word in 0..<words {
            var bits = masks[base + word] & text.found[word]
            while bits != 0 {
                ids.append(word * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return ids
    }

    /// The status rule for an HTTP status, or `nil` when no rule covers it.
    func statusRule(_ status: Int) -> Classification? {
        for entry in statusRules where entry.statuses.contains(status) {
            return Classification(class: rules[entry.index].class, rule: rules[entry.index].name)
        }
        return nil
    }

    private static func intersects(_ found: UnsafeBufferPointer<UInt64>, _ masks: UnsafeBufferPointer<UInt64>, _ base: Int, _ words: Int) -> Bool {
        var index = 0
        while index < words {
            if found[index] & masks[base + index] != 0 { return true }
            index += 1
        }
        return false
    }
}
