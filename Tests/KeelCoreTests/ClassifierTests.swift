import Foundation
import KeelCore
import Testing

@Suite struct ClassifierTests {
    /// 2025-08-19 12:00:00 UTC; 14:00 in Paris (CEST).
    static let now = Date(timeIntervalSince1970: 1_755_604_800)
    static let paris = TimeZone(identifier: "Europe/Paris")!
    let classifier = ErrorClassifier(timeZone: ClassifierTests.paris)

    func classify(_ text: String) -> Classification {
        classifier.classify(text, now: Self.now)
    }

    // MARK: The labelled sample

    /// The labelled sample is binary (retry or escalate): a `transient` row may also come out
    /// as `wait`, which is a retry with a known reset time.
    @Test func everyRowOfThePublicSampleGetsItsLabel() throws {
        let rows = try Self.publicSample()
        #expect(rows.count >= 40)
        for row in rows {
            let got = classify(row.message)
            let accepted: Set<ErrorClass> = row.label == "transient" ? [.transient, .wait] : [.permanent]
            #expect(accepted.contains(got.class), "\(row.label) expected, got \(got): \(row.message) (\(row.source))")
        }
    }

    @Test func publicSampleRowsNameTheRuleThatDecided() throws {
        let rules = Dictionary(try Self.publicSample().map { ($0.message, classify($0.message).rule) }, uniquingKeysWith: { a, _ in a })
        // Permanent rows all rest on positive evidence, never on the default.
        for row in try Self.publicSample() where row.label == "permanent" {
            #expect(rules[row.message] != ErrorClassifier.defaultRule, "\(row.message)")
        }
        #expect(rules["409 Head branch was modified. Review and try the merge again."] == "merge-head-modified")
        #expect(rules["Bypassed rule violations ... 4 of 4 required status checks are expected."] == "merge-pending-check")
        #expect(rules["405 At least 1 approving review is required by reviewers with write access."] == "merge-review-required")
    }

    // MARK: The field report's incidents

    @Test func closedSocketIsRetriedNotEscalated() {
        let got = classify("API Error: The socket connection was closed unexpectedly.")
        #expect(got == Classification(class: .transient, rule: "socket-closed"))
    }

    @Test func aDisabledBuiltinRuleFallsThroughToTheNextRuleOrThePolicy() {
        let socket = "API Error: The socket connection was closed unexpectedly."
        // Without the rule, nothing else matches: the policy for unmatched text decides.
        let keelPolicy = ErrorClassifier(timeZone: Self.paris, disabling: ["socket-closed"], unmatched: .transient)
        #expect(keelPolicy.classify(socket, now: Self.now) == Classification(class: .transient, rule: ErrorClassifier.defaultRule))
        let gatewayPolicy = ErrorClassifier(timeZone: Self.paris, disabling: ["socket-closed"], unmatched: .permanent)
        #expect(gatewayPolicy.classify(socket, now: Self.now) == Classification(class: .permanent, rule: "default-permanent"))
        // A text another rule also covers is decided by that rule.
        #expect(gatewayPolicy.classify("API Error: fetch failed", now: Self.now) == Classification(class: .transient, rule: "connection-failed"))
        // Status rules and error types can be disabled too.
        let noStatus = ErrorClassifier(timeZone: Self.paris, disabling: ["http-403", "overloaded"], unmatched: .permanent)
        #expect(noStatus.classify(signal: .http(status: 403, errorType: nil, retryAfter: nil), now: Self.now).rule == "default-permanent")
        #expect(noStatus.classify(signal: .http(status: 529, errorType: "overloaded_error", retryAfter: nil), now: Self.now).rule == "http-5xx")
        // The ordinary classifier is untouched by all of this.
        #expect(classify(socket) == Classification(class: .transient, rule: "socket-closed"))
    }

    @Test func singularPendingCheckIsRetriedAtMerge() {
        let got = classify("Repository rules blocked merge: 405\nRequired status check \"check-branch-name\" is expected.")
        #expect(got == Classification(class: .transient, rule: "merge-pending-check"))
    }

    @Test func pluralPendingChecksAndModifiedBaseAreRetried() {
        #expect(classify("3 of 5 required status checks are expected.") == Classification(class: .transient, rule: "merge-pending-check"))
        #expect(classify("Required status check \"test\" is expected.").rule == "merge-pending-check")
        #expect(
            classify("Base branch was modified. Review and try the merge again.")
                == Classification(class: .transient, rule: "merge-base-modified"))
        #expect(
            classifier.classify(signal: .text(#"{"message":"Base branch was modified. Review and try the merge again.","documentation_url":"https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"}"#), now: Self.now)
                .rule == "merge-base-modified")
    }

    @Test func mergePolicyRefusalsAreEscalated() {
        #expect(
            classify("405 At least 1 approving review is required by reviewers with write access.")
                == Classification(class: .permanent, rule: "merge-review-required"))
        #expect(
            classify("Repository rules blocked merge: 405\nCommits must have verified signatures.")
                == Classification(class: .permanent, rule: "merge-signed-commits"))
        // A refusal next to a pending check is still a refusal: waiting for the check cannot produce a review.
        #expect(
            classify("Repository rule violations found\nAt least 1 approving review is required.\n2 of 2 required status checks are expected.")
                .class == .permanent)
        #expect(classify("Repository rules blocked merge: 405\nRequired status check \"test\" is failing.").rule == "merge-check-failing")
    }

    @Test func unexpectedOutsideAMergeIsNotAPendingCheck() {
        #expect(classify("send-pack: unexpected disconnect while reading sideband packet").rule == "stream-disconnected")
        #expect(classify("merge failed: unexpected end of file").rule != "merge-pending-check")
    }

    // MARK: Reset times

    @Test func usageLimitWithUnixTimestampWaitsUntilIt() {
        #expect(
            classify("Claude AI usage limit reached|1755615600")
                == Classification(class: .wait, rule: "usage-limit-reset", retryAfterSeconds: 10_800))
        // A reset already past means retry now, not a negative wait.
        #expect(classify("Claude AI usage limit reached|1755600000").retryAfterSeconds == 0)
        #expect(classify("Claude AI usage limit reached|soon") == Classification(class: .wait, rule: "usage-limit-reset"))
    }

    @Test func tryAgainAtIsReadInTheClassifiersTimeZone() {
        let text = "You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM."
        // 14:00 in Paris: 12:16 PM has passed today, so tomorrow's: 22 h 16 min.
        #expect(classify(text) == Classification(class: .wait, rule: "try-again-at", retryAfterSeconds: 80_160))
        let utc = ErrorClassifier(timeZone: TimeZone(identifier: "UTC")!)
        // 12:00 UTC: 16 minutes.
        #expect(utc.classify(text, now: Self.now).retryAfterSeconds == 960)
        let tokyo = ErrorClassifier(timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        // 21:00 in Tokyo: 15 h 16 min.
        #expect(tokyo.classify(text, now: Self.now).retryAfterSeconds == 54_960)
        #expect(utc.classify("Rate limit hit, try again at 9:30 pm", now: Self.now).retryAfterSeconds == 34_200)
        #expect(utc.classify("Usage limit reached; try again at 14:05.", now: Self.now).retryAfterSeconds == 7_500)
    }

    @Test func aResetTimeJustPassedMeansRetryNow() {
        let utc = TimeZone(identifier: "UTC")!
        // 12:00:30 against "12:00": the message shows minutes only.
        #expect(ResetTime.seconds(untilClockTime: 12, minute: 0, in: utc, from: Self.now.addingTimeInterval(30)) == 0)
        #expect(ResetTime.seconds(untilClockTime: 11, minute: 58, in: utc, from: Self.now) == 86_280)
        #expect(ResetTime.seconds(untilUnixTime: 1_755_604_800_000, from: Self.now) == 0)
    }

    @Test func unreadableResetTimeStillWaits() {
        let got = classify("You've hit your usage limit. Upgrade or try again at the start of next week.")
        #expect(got == Classification(class: .wait, rule: "try-again-at"))
        #expect(classify("You've hit your usage limit. Try again at 12:16 PM on Sep 12.").retryAfterSeconds == nil)
        // Not a limit message: "try again at" alone is no reset time.
        #expect(classify("Service busy, try again at a later time").class == .transient)
    }

    @Test func retryAfterInSecondsAndAsHTTPDate() {
        #expect(
            classifier.classify(signal: .http(status: 429, errorType: "rate_limit_error", retryAfter: "30"), now: Self.now)
                == Classification(class: .wait, rule: "retry-after", retryAfterSeconds: 30))
        #expect(
            classifier.classify(signal: .http(status: 503, errorType: nil, retryAfter: "Tue, 19 Aug 2025 12:02:00 GMT"), now: Self.now)
                .retryAfterSeconds == 120)
        #expect(ResetTime.retryAfterSeconds("Tuesday, 19-Aug-25 12:00:45 GMT", now: Self.now) == 45)
        #expect(ResetTime.retryAfterSeconds("Tue Aug 19 13:00:00 2025", now: Self.now) == 3600)
        #expect(ResetTime.retryAfterSeconds("soon", now: Self.now) == nil)
        #expect(
            classifier.classify(signal: .http(status: 429, errorType: nil, retryAfter: "soon"), now: Self.now)
                == Classification(class: .wait, rule: "retry-after"))
        #expect(classify("HTTP 503\nRetry-After: 120\nContent-Type: text/plain").retryAfterSeconds == 120)
        #expect(classify("Retry-After: Tue, 19 Aug 2025 12:10:00 GMT\nServer: cloudflare").retryAfterSeconds == 600)
        #expect(
            classify(#"API Error: 522 {"retryable":true,"retry_after":120}"#)
                == Classification(class: .wait, rule: "retry-after", retryAfterSeconds: 120))
    }

    @Test func rateLimitWithoutResetIsTransient() {
        #expect(
            classifier.classify(signal: .http(status: 429, errorType: nil, retryAfter: nil), now: Self.now)
                == Classification(class: .transient, rule: "http-429"))
        #expect(classify("429 Too Many Requests").class == .transient)
        #expect(
            classifier.classify(signal: .rateLimit(resetsAt: Date(timeIntervalSince1970: 1_755_606_600)), now: Self.now)
                == Classification(class: .wait, rule: "rate-limit-reset", retryAfterSeconds: 1800))
    }

    // MARK: Structured signals

    @Test func httpStatusesAndErrorTypes() {
        func http(_ status: Int, _ type: String? = nil) -> Classification {
            classifier.classify(signal: .http(status: status, errorType: type, retryAfter: nil), now: Self.now)
        }
        #expect(http(529, "overloaded_error") == Classification(class: .transient, rule: "overloaded"))
        #expect(http(524) == Classification(class: .transient, rule: "http-5xx"))
        #expect(http(401).class == .permanent)
        #expect(http(403) == Classification(class: .permanent, rule: "http-403"))
        #expect(http(400, "invalid_request_error") == Classification(class: .permanent, rule: "invalid-request"))
        #expect(http(404, "not_found_error").class == .permanent)
        #expect(http(418) == Classification(class: .transient, rule: ErrorClassifier.defaultRule))
    }

    @Test func apiErrorReportedAsSuccessIsEscalated() {
        let transcript = """
            {"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text","text":"Your organization has disabled Claude subscription access for Claude Code · Use an Anthropic API key instead, or ask your admin to enable access"}]},"error":"oauth_org_not_allowed","is_api_error_message":true,"request_id":"req_011Ce2pPpFrtD864x1cuhUHu"}
            {"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":403,"num_turns":484,"duration_ms":15050000,"duration_api_ms":9800000,"result":"Your organization has disabled Claude subscription access for Claude Code · Use an Anthropic API key instead, or ask your admin to enable access","session_id":"…","total_cost_usd":41.2,"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}
            """
        #expect(classify(transcript) == Classification(class: .permanent, rule: "organization-disabled"))
        let resultLine = String(transcript.split(separator: "\n")[1])
        #expect(classify(resultLine).class == .permanent)
        // The status alone, with no text, still escalates.
        let bare = ClaudeResult(subtype: "success", isError: true, terminalReason: "api_error", apiErrorStatus: 403)
        #expect(classifier.classify(signal: .claudeResult(bare), now: Self.now) == Classification(class: .permanent, rule: "http-403"))
    }

    /// Max turns is the agent running out of its turn budget: the same prompt with the same
    /// `--max-turns` stops the same way (turn counting is deterministic; `--max-turns 1` ends at
    /// `num_turns: 2` every time), each attempt costs a full run, and raising the budget or
    /// splitting the task is a person's call. The labelled sample marks it permanent too.
    @Test func maxTurnsIsEscalated() {
        let line = #"{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":4120,"duration_api_ms":3987,"num_turns":2,"session_id":"6b1c...","total_cost_usd":0.0031,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":40},"permission_denials":[],"terminal_reason":"max_turns","errors":["Reached maximum number of turns (1)"]}"#
        #expect(classify(line) == Classification(class: .permanent, rule: "max-turns"))
        #expect(classify("Error: Reached max turns (5)") == Classification(class: .permanent, rule: "max-turns"))
        #expect(classify(#"{"type":"result","subtype":"error_max_budget_usd","is_error":true}"#).rule == "max-budget")
    }

    @Test func executionErrorWithoutDetailIsRetried() {
        let line = #"{"type":"result","subtype":"error_during_execution","duration_ms":103509,"duration_api_ms":103482,"is_error":false,"num_turns":1,"stop_reason":null,"session_id":"…","total_cost_usd":0,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0},"modelUsage":{},"permission_denials":[],"errors":[]}"#
        #expect(classify(line) == Classification(class: .transient, rule: "execution-error"))
    }

    @Test func rejectedRateLimitInTranscriptWaitsForItsReset() {
        let transcript = """
            {"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1755608400,"rateLimitType":"five_hour","utilization":1.0}}
            {"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":429,"result":"API Error: 429 rate_limit_error"}
            """
        #expect(classify(transcript) == Classification(class: .wait, rule: "rate-limit-reset", retryAfterSeconds: 3600))
        let warning = #"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1767225600,"rateLimitType":"five_hour","utilization":0.91}}"#
        #expect(classify(warning) == Classification(class: .transient, rule: ErrorClassifier.notAnErrorRule))
    }

    @Test func codexTurnFailedIsReadFromItsMessage() {
        let stream = """
            {"type":"error","message":"You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM."}
            {"type":"turn.failed","error":{"message":"You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM."}}
            """
        let utc = ErrorClassifier(timeZone: TimeZone(identifier: "UTC")!)
        #expect(utc.classify(stream, now: Self.now) == Classification(class: .wait, rule: "try-again-at", retryAfterSeconds: 960))
        #expect(classify("stream disconnected before completion: error sending request").class == .transient)
        #expect(classify("Reconnecting... 2/5").rule == "stream-disconnected")
    }

    @Test func agentEventsThatReportNoFailureAreNotErrors() {
        let success = #"{"type":"result","subtype":"success","is_error":false,"duration_ms":8722,"num_turns":2,"result":"Permission denied (publickey) was the old problem; fixed now.","session_id":"40e7b02d"}"#
        // The agent's own words are not the run's failure.
        #expect(classify(success) == Classification(class: .transient, rule: ErrorClassifier.notAnErrorRule))
        #expect(classify(#"{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}"#).rule == "not-an-error")
        #expect(classify(#"{"type":"error","severity":"warning","message":"Loop detected, stopping execution"}"#).rule == "not-an-error")
        #expect(classify(#"{"type":"error","severity":"error","message":"Maximum session turns exceeded"}"#).rule == "max-turns")
    }

    @Test func anthropicErrorBodyIsReadByType() {
        #expect(
            classify(#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)
                == Classification(class: .transient, rule: "overloaded"))
        #expect(
            classify(#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#).class == .permanent)
    }

    // MARK: Text patterns

    @Test func networkFailuresAreTransient() {
        for text in [
            "socket hang up", "read ECONNRESET", "connect ETIMEDOUT 104.18.6.192:443", "getaddrinfo EAI_AGAIN api.anthropic.com",
            "TypeError: fetch failed", "stream disconnected before completion: Transport error", "Reconnecting... 1/5",
            "API Error: 524 origin_response_timeout", "API Error: 529 overloaded_error", "503 Service Unavailable",
        ] {
            #expect(classify(text).class == .transient, "\(text)")
            #expect(classify(text).rule != ErrorClassifier.defaultRule, "\(text)")
        }
    }

    @Test func positiveEvidenceIsPermanent() {
        for (text, rule) in [
            ("fatal: not a git repository (or any of the parent directories): .git", "git-not-a-repository"),
            ("git@github.com: Permission denied (publickey).", "git-publickey"),
            ("API Error: 400 prompt is too long: 215000 tokens > 200000 maximum", "context-window"),
            ("API Error: 404 model not found: claude-9", "model-not-found"),
            ("Your credit balance is too low to access the Anthropic API.", "billing"),
            ("Output blocked by content filtering policy", "content-policy"),
            ("API Error: 401 Unauthorized", "auth-failed"),
        ] {
            #expect(classify(text) == Classification(class: .permanent, rule: rule), "\(text)")
        }
    }

    @Test func numbersThatAreNotStatusesAreIgnored() {
        #expect(classify("connect to 10.0.0.403:8080 refused after 401 ms").class == .transient)
        #expect(classify("job 404 finished; queue 400 long").rule == ErrorClassifier.defaultRule)
        #expect(classify("POST /jobs HTTP/1.1 500 Internal Server Error").class == .transient)
        #expect(classify("The requested URL returned error: 403") == Classification(class: .permanent, rule: "http-403"))
    }

    @Test func unknownTextIsTransientByDefault() {
        #expect(classify("something odd happened") == Classification(class: .transient, rule: "default-transient"))
        #expect(classify("") == Classification(class: .transient, rule: "empty"))
        #expect(classify(" \n\t ") == Classification(class: .transient, rule: "empty"))
        #expect(classify("{not json at all").class == .transient)
    }

    // MARK: User rules

    @Test func userRulesComeBeforeBuiltInRules() throws {
        let classifier = ErrorClassifier(
            extraRules: [
                try Rule(name: "flaky-vpn", class: .transient, substring: "PERMISSION DENIED (publickey)"),
                try Rule(name: "gateway-window", class: .wait, regex: #"quota window \d+ closed"#, retryAfterSeconds: 900),
                try Rule(name: "ours-is-final", class: .permanent, substring: "socket hang up"),
            ],
            timeZone: Self.paris)
        #expect(
            classifier.classify("git@github.com: Permission denied (publickey).", now: Self.now)
                == Classification(class: .transient, rule: "flaky-vpn"))
        #expect(
            classifier.classify("upstream: QUOTA WINDOW 7 CLOSED", now: Self.now)
                == Classification(class: .wait, rule: "gateway-window", retryAfterSeconds: 900))
        #expect(classifier.classify("Error: socket hang up", now: Self.now) == Classification(class: .permanent, rule: "ours-is-final"))
        // Before structured signals too.
        #expect(classifier.classify(#"{"type":"turn.failed","error":{"message":"socket hang up"}}"#, now: Self.now).rule == "ours-is-final")
        #expect(
            classifier.classify(signal: .claudeResult(ClaudeResult(subtype: "error_max_turns", isError: true, message: "socket hang up")), now: Self.now)
                .rule == "ours-is-final")
        #expect(classifier.rules.first == (try Rule(name: "flaky-vpn", class: .transient, pattern: .substring("PERMISSION DENIED (publickey)"))))
        #expect(classifier.rules.count == ErrorClassifier.builtinRules.count + 3)
    }

    @Test func unusableUserRulesAreRefusedWithTheReason() {
        #expect(throws: CoreError.self) { try Rule(name: "", class: .transient, substring: "x") }
        #expect(throws: CoreError.self) { try Rule(name: "empty", class: .transient, substring: "  ") }
        #expect(throws: CoreError.self) { try Rule(name: "bad", class: .permanent, regex: "(unclosed") }
        #expect(throws: CoreError.self) { try Rule(name: "guard", class: .policy, substring: "x") }
        #expect(throws: CoreError.self) { try Rule(name: "wait-less", class: .transient, substring: "x", retryAfterSeconds: 5) }
        do {
            _ = try Rule(name: "bad", class: .permanent, regex: "(unclosed")
        } catch {
            #expect(error.code == .invalidRule)
            #expect(error.message.contains("bad"))
        }
    }

    // MARK: Output

    @Test func jsonHasExactlyTheDocumentedKeys() throws {
        let waiting = Classification(class: .wait, rule: "try-again-at", retryAfterSeconds: 960)
        let transient = Classification(class: .transient, rule: "default-transient")
        #expect(waiting.jsonText == #"{"class":"wait","rule":"try-again-at","retry_after_seconds":960}"#)
        #expect(transient.jsonText == #"{"class":"transient","rule":"default-transient"}"#)
        for value in [waiting, transient] {
            let object = try #require(JSONSerialization.jsonObject(with: Data(value.jsonText.utf8)) as? [String: Any])
            #expect(Set(object.keys) == (value.retryAfterSeconds == nil ? ["class", "rule"] : ["class", "rule", "retry_after_seconds"]))
            #expect(try JSONDecoder().decode(Classification.self, from: Data(value.jsonText.utf8)) == value)
            let encoded = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
            #expect(Set(encoded.keys) == Set(object.keys))
        }
        #expect(Classification(class: .permanent, rule: "say \"hi\"\n").jsonText == #"{"class":"permanent","rule":"say \"hi\"\n"}"#)
    }

    // MARK: Fixture

    struct SampleRow {
        var label: String
        var message: String
        var source: String
    }

    /// `Tests/Fixtures/errors-public.tsv`: label, source_kind, message, source.
    static func publicSample() throws -> [SampleRow] {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let url = tests.appendingPathComponent("Fixtures/errors-public.tsv")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 4 else { return nil }
            return SampleRow(label: fields[0], message: fields[2], source: fields[3])
        }
    }
}
