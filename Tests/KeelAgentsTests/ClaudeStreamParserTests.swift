import Foundation
import KeelAgents
import Testing

/// Tests/KeelAgentsTests/<file> → Tests/Fixtures/agents/<name>: recorded agent output kept in the
/// repository (see Tests/Fixtures/README.md).
private func fixture(_ name: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/agents/\(name)")
        .standardizedFileURL
    return try String(contentsOf: url, encoding: .utf8)
}

private func parse(_ lines: [String]) -> AgentResult? {
    var parser = ClaudeStreamParser()
    for line in lines {
        parser.consume(line: line)
    }
    return parser.finish()
}

private func parse(_ text: String) -> AgentResult? {
    parse(text.components(separatedBy: "\n"))
}

private func result(cost: String) -> String {
    #"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"ok","total_cost_usd":\#(cost),"usage":{"input_tokens":1,"output_tokens":1}}"#
}

@Suite struct ClaudeStreamParserTests {
    static let successFixture = AgentResult(
        outcome: .success,
        isError: false,
        turns: 2,
        inputTokens: 18,
        outputTokens: 424,
        cacheReadTokens: 17254,
        cacheWriteTokens: 25067,
        costMicros: 247_224,
        model: "claude-opus-4-5-20251101",
        sessionID: "40e7b02d-c0f9-4876-9010-f514d4eb0603",
        message: "Here are the files in the current directory."
    )

    @Test func successfulStreamFixtureParsesToExactNumbers() throws {
        let text = try fixture("claude-code-stream-success.jsonl")
        let lines = text.components(separatedBy: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 4)
        let result = try #require(parse(text))
        #expect(result == Self.successFixture)
    }

    @Test func garbageLinesInterleavedAreIgnored() throws {
        let lines = try fixture("claude-code-stream-success.jsonl").components(separatedBy: "\n")
        let garbage = [
            "",
            "   ",
            "Retrying in 2 seconds… (attempt 1/10)",
            "{not json",
            "[1,2,3]",
            #"{"type":"stream_event","event":{"type":"content_block_delta"}}"#,
            #"{"type":"some_future_type","payload":{"x":1}}"#,
            #"{"no_type":true}"#,
            #"{"type":42}"#,
            #"{"type":"result","subtype":"success""#,
            "\u{FEFF}\u{2028}",
        ]
        var mixed: [String] = []
        for (index, line) in lines.enumerated() {
            mixed.append(garbage[index % garbage.count])
            mixed.append(line)
            mixed.append(garbage[(index + 5) % garbage.count])
        }
        mixed.append(contentsOf: garbage)
        #expect(parse(mixed) == Self.successFixture)
    }

    @Test func maxTurnsIsClassifiedFromTheSubtype() throws {
        let line = #"{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":4120,"duration_api_ms":3987,"num_turns":2,"session_id":"6b1c...","total_cost_usd":0.0031,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":40},"permission_denials":[],"terminal_reason":"max_turns","errors":["Reached maximum number of turns (1)"]}"#
        let result = try #require(parse([line]))
        #expect(
            result
                == AgentResult(
                    outcome: .maxTurns,
                    isError: true,
                    turns: 2,
                    inputTokens: 12,
                    outputTokens: 40,
                    costMicros: 3100,
                    sessionID: "6b1c...",
                    message: "Reached maximum number of turns (1)",
                    terminalReason: "max_turns"
                )
        )
    }

    @Test func maxTurnsWithEmptyErrorsIsStillMaxTurns() throws {
        let line = #"{"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":61,"errors":[]}"#
        let result = try #require(parse([line]))
        #expect(result.outcome == .maxTurns)
        #expect(result.message == nil)
    }

    @Test func errorDuringExecutionIsAFailureEvenWithIsErrorFalse() throws {
        let line = #"{"type":"result","subtype":"error_during_execution","duration_ms":103509,"duration_api_ms":103482,"is_error":false,"num_turns":1,"stop_reason":null,"session_id":"…","total_cost_usd":0,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0},"modelUsage":{},"permission_denials":[],"errors":[]}"#
        let result = try #require(parse([line]))
        #expect(
            result
                == AgentResult(
                    outcome: .error,
                    isError: true,
                    turns: 1,
                    costMicros: 0,
                    sessionID: "…"
                )
        )
    }

    @Test func apiErrorReportedAsSuccessIsAnError() throws {
        let lines = [
            #"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text","text":"Your organization has disabled Claude subscription access for Claude Code · Use an Anthropic API key instead, or ask your admin to enable access"}]},"error":"oauth_org_not_allowed","is_api_error_message":true,"request_id":"req_011Ce2pPpFrtD864x1cuhUHu"}"#,
            #"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":403,"num_turns":484,"duration_ms":15050000,"duration_api_ms":9800000,"result":"Your organization has disabled Claude subscription access for Claude Code · Use an Anthropic API key instead, or ask your admin to enable access","session_id":"…","total_cost_usd":41.2,"usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}"#,
        ]
        let result = try #require(parse(lines))
        #expect(
            result
                == AgentResult(
                    outcome: .error,
                    isError: true,
                    turns: 484,
                    costMicros: 41_200_000,
                    model: nil,
                    sessionID: "…",
                    message: "Your organization has disabled Claude subscription access for Claude Code · Use an Anthropic API key instead, or ask your admin to enable access",
                    apiErrorStatus: 403,
                    terminalReason: "api_error"
                )
        )
    }

    @Test func syntheticAssistantTextExplainsAnErrorWithoutResultText() throws {
        let lines = [
            #"{"type":"system","subtype":"init","model":"claude-sonnet-4-5","session_id":"s-1"}"#,
            #"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text","text":"API Error: 529 Overloaded"}]},"error":"server_error","is_api_error_message":true}"#,
            #"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":529}"#,
        ]
        let result = try #require(parse(lines))
        #expect(result.outcome == .error)
        #expect(result.message == "API Error: 529 Overloaded")
        #expect(result.apiErrorStatus == 529)
        #expect(result.model == "claude-sonnet-4-5")
        #expect(result.sessionID == "s-1")
    }

    @Test func modelComesFromTheFirstRealAssistantMessageWithoutInit() throws {
        let lines = [
            #"{"type":"assistant","message":{"model":"<synthetic>","content":[]},"is_api_error_message":true}"#,
            #"{"type":"assistant","message":{"model":"claude-haiku-4-5","content":[{"type":"text","text":"hi"}]}}"#,
            #"{"type":"assistant","message":{"model":"claude-other","content":[]}}"#,
            result(cost: "0.01"),
        ]
        #expect(parse(lines)?.model == "claude-haiku-4-5")
    }

    @Test func rejectedRateLimitGivesTheResetTime() throws {
        let lines = [
            #"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1767225600,"rateLimitType":"five_hour","utilization":0.91}}"#,
            #"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1767229200,"rateLimitType":"five_hour","utilization":1.0}}"#,
            #"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":429,"result":"Claude AI usage limit reached"}"#,
        ]
        let result = try #require(parse(lines))
        #expect(result.outcome == .error)
        #expect(result.rateLimitResetsAt == 1_767_229_200)
    }

    @Test func rateLimitThatIsNotRejectedGivesNoResetTime() throws {
        let lines = [
            #"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed_warning","resetsAt":1767225600,"rateLimitType":"five_hour","utilization":0.91}}"#,
            result(cost: "0.01"),
        ]
        #expect(try #require(parse(lines)).rateLimitResetsAt == nil)
    }

    @Test func costIsRoundedHalfUpToMicroUSD() throws {
        #expect(parse([result(cost: "0.24722425")])?.costMicros == 247_224)
        #expect(parse([result(cost: "0.0000005")])?.costMicros == 1)
        #expect(parse([result(cost: "0.0000015")])?.costMicros == 2)
        #expect(parse([result(cost: "0.00000049")])?.costMicros == 0)
        #expect(parse([result(cost: "1e-7")])?.costMicros == 0)
        #expect(parse([result(cost: "12")])?.costMicros == 12_000_000)
        #expect(parse([result(cost: "41.2")])?.costMicros == 41_200_000)
    }

    @Test func missingCostAndUsageAreTolerated() throws {
        let result = try #require(parse([#"{"type":"result","subtype":"success","is_error":false,"result":"done"}"#]))
        #expect(result.outcome == .success)
        #expect(result.costMicros == nil)
        #expect(result.turns == nil)
        #expect(result.inputTokens == 0 && result.outputTokens == 0 && result.cacheReadTokens == 0 && result.cacheWriteTokens == 0)
    }

    @Test func unknownSubtypeIsAnError() throws {
        #expect(parse([#"{"type":"result","subtype":"error_max_budget_usd","is_error":false}"#])?.outcome == .error)
        #expect(parse([#"{"type":"result","is_error":false,"result":"?"}"#])?.outcome == .error)
    }

    @Test func noResultLineGivesNil() throws {
        let lines = try fixture("claude-code-stream-success.jsonl").components(separatedBy: "\n").filter { !$0.contains(#""type":"result""#) }
        #expect(parse(lines) == nil)
        #expect(ClaudeStreamParser().finish() == nil)
    }

    @Test func resultEncodesWithStableOutcomeNames() throws {
        let value = AgentResult(outcome: .maxTurns, isError: true, turns: 3)
        let data = try JSONEncoder().encode(value)
        #expect(String(decoding: data, as: UTF8.self).contains(#""outcome":"max_turns""#))
        #expect(try JSONDecoder().decode(AgentResult.self, from: data) == value)
    }
}

/// What the real Claude Code 2.1.327 printed, run with `-p --output-format stream-json --verbose`
/// against a scripted Messages API on loopback (Tests/Fixtures/agents/README.md).
@Suite struct RealClaudeCodeOutputTests {
    @Test func anEditRunParsesToTheCostAndTokensTheCLIReported() throws {
        let result = try #require(parse(try fixture("claude-code-2.1.327-edit.jsonl")))
        #expect(result.outcome == .success && !result.isError)
        #expect(result.costMicros == 1600 && result.inputTokens == 200 && result.outputTokens == 40 && result.turns == 2)
        #expect(result.model == "claude-opus-5-5" && result.message == "Wrote greeting-1.txt.")
    }

    @Test func aRunRefusedItsWriteIsAnErrorNamingTheToolAndTheFileWhateverItsSubtypeSays() throws {
        let text = try fixture("claude-code-2.1.327-permission-denied.jsonl")
        #expect(text.contains(#""subtype":"success""#) && text.contains(#""is_error":false"#), "the CLI itself says success")
        let result = try #require(parse(text))
        #expect(result.outcome == .error && result.isError)
        #expect(result.message?.hasPrefix("permission denied: Claude Code was refused Write /tmp/probe/w2/greeting-1.txt (permission_denials)") == true, "\(result.message ?? "")")
        #expect(result.costMicros == 1600, "the refused run still cost what it cost")
    }

    @Test func anOverloadedModelAndAnInvalidKeyKeepTheirStatusAndText() throws {
        let overloaded = try #require(parse(try fixture("claude-code-2.1.327-529.jsonl")))
        #expect(overloaded.outcome == .error && overloaded.apiErrorStatus == 529 && overloaded.terminalReason == "api_error")
        #expect(overloaded.message?.hasPrefix("API Error: 529 Overloaded.") == true, "\(overloaded.message ?? "")")
        let invalidKey = try #require(parse(try fixture("claude-code-2.1.327-401.jsonl")))
        #expect(invalidKey.outcome == .error && invalidKey.apiErrorStatus == 401 && invalidKey.costMicros == 0)
        #expect(invalidKey.message == "Invalid API key · Fix external API key")
    }

    @Test func theFirstRetryOfARefusedKeySettlesTheRunAndARetriedOverloadDoesNot() throws {
        let refused = try fixture("claude-code-2.1.327-401.jsonl").components(separatedBy: "\n").filter { !$0.isEmpty }
        #expect(refused[1].contains(#""subtype":"api_retry""#) && refused[1].contains(#""error_status":401"#))
        var parser = ClaudeStreamParser()
        parser.consume(line: refused[0])
        #expect(parser.settled == nil)
        parser.consume(line: refused[1])
        #expect(parser.settled == "the model endpoint refused the key (HTTP 401 authentication_failed) and Claude Code was retrying it")
        // Stopped there, with no result line: the ending is still known.
        let stopped = try #require(parser.finish())
        #expect(stopped.outcome == .error && stopped.isError && stopped.apiErrorStatus == 401 && stopped.costMicros == 0)
        #expect(stopped.message?.hasPrefix("API Error: 401 authentication_failed: the model endpoint refused the key") == true, "\(stopped.message ?? "")")
        // Had it run to its end, its own result line is the word.
        for line in refused.dropFirst(2) { parser.consume(line: line) }
        #expect(parser.settled == nil && parser.finish()?.message == "Invalid API key · Fix external API key")

        var overloaded = ClaudeStreamParser()
        for line in try fixture("claude-code-2.1.327-529.jsonl").components(separatedBy: "\n").prefix(2) { overloaded.consume(line: line) }
        #expect(overloaded.settled == nil && overloaded.finish() == nil, "an overload may pass: the CLI's own retries go on")
    }

    @Test func manyRefusalsAreListedOnceEachUpToFive() throws {
        // Eight distinct refusals (a repeated one counts once): five named, three more.
        let denials = (1...7).map { #"{"tool_name":"Bash","tool_use_id":"t\#($0)","tool_input":{"command":"make step\#($0)"}}"# }
            + [#"{"tool_name":"Bash","tool_use_id":"t8","tool_input":{"command":"make step1"}}"#, #"{"tool_name":"WebFetch"}"#]
        let line = #"{"type":"result","subtype":"success","is_error":false,"num_turns":3,"result":"ok","permission_denials":["# + denials.joined(separator: ",") + "]}"
        let result = try #require(parse([line]))
        #expect(result.outcome == .error)
        #expect(
            result.message?.hasPrefix("permission denied: Claude Code was refused Bash make step1, Bash make step2, Bash make step3, Bash make step4, Bash make step5, 3 more (permission_denials)") == true,
            "\(result.message ?? "")")
    }
}
