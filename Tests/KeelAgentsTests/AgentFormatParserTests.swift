import Foundation
import KeelAgents
import KeelCore
import Testing

/// The recorded agent output in Tests/Fixtures/agents (see ClaudeStreamParserTests).
private func agentFixture(_ name: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fixtures/agents/\(name)").standardizedFileURL
    return try String(contentsOf: url, encoding: .utf8)
}

private func parse(_ format: AgentFormat, _ text: String) -> AgentResult? {
    var parser = format.makeParser()
    for line in text.components(separatedBy: "\n") { parser.consume(line: line) }
    return parser.finish()
}

@Suite struct CodexStreamParserTests {
    @Test func theSuccessFixtureParsesToItsNumbers() throws {
        let result = try #require(parse(.codex, try agentFixture("codex-exec-success.jsonl")))
        #expect(
            result
                == AgentResult(
                    outcome: .success, isError: false, turns: 1, inputTokens: 24763, outputTokens: 122, cacheReadTokens: 24448,
                    cacheWriteTokens: 0, costMicros: nil, model: nil, sessionID: "0199a213-81c0-7800-8aa1-bbab2a035a53",
                    message: "Yep — there’s a `README.md` in the repository root."))
    }

    @Test func codexReportsNoCostSoItIsPricedFromTheTableWithoutCountingCachedTokensTwice() throws {
        let result = try #require(parse(.codex, try agentFixture("codex-exec-success.jsonl")))
        let table = PricingTable(["gpt-5-codex": ModelPrice(inputPerMillion: 1_250_000, outputPerMillion: 10_000_000, cacheReadPerMillion: 125_000)])
        // 315 uncached × $1.25/M + 122 × $10/M + 24,448 cached × $0.125/M = 0.00039375 + 0.00122 + 0.003056 = $0.00466975
        #expect(AgentFormat.codex.price(result, with: table, fallbackModel: "gpt-5-codex") == 4670)
        #expect(AgentFormat.codex.price(result, with: table) == nil, "no model named: no price")
        #expect(AgentFormat.codex.price(result, with: PricingTable(), fallbackModel: "gpt-5-codex") == nil)
    }

    @Test func aUsageLimitIsAFailureWhateverTheExitCode() throws {
        let text = """
            {"type":"thread.started","thread_id":"t1"}
            {"type":"turn.started"}
            {"type":"error","message":"You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM."}
            {"type":"turn.failed","error":{"message":"You've hit your usage limit. To get more access now, send a request to your admin or try again at 12:16 PM."}}
            """
        let result = try #require(parse(.codex, text))
        #expect(result.outcome == .error && result.isError && result.turns == 1)
        #expect(result.message?.hasPrefix("You've hit your usage limit") == true)
        #expect(ErrorClassifier().classify(result.message ?? "", now: Date()).class != .permanent, "a limit that resets is worth waiting for")
    }

    @Test func reconnectNoticesAreNotFailuresWhenTheTurnCompletes() throws {
        let text = """
            {"type":"thread.started","thread_id":"t2"}
            {"type":"turn.started"}
            {"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion: error sending request)"}
            {"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":"a.py","kind":"update"}],"status":"completed"}}
            {"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Done."}}
            {"type":"turn.completed","usage":{"input_tokens":900,"cached_input_tokens":0,"output_tokens":50,"reasoning_output_tokens":20}}
            """
        let result = try #require(parse(.codex, text))
        #expect(result.outcome == .success && result.message == "Done." && result.inputTokens == 900 && result.outputTokens == 50)
    }

    @Test func aStreamThatEndsAfterErrorsWithoutATurnResultIsAFailure() throws {
        let text = """
            {"type":"thread.started","thread_id":"t3"}
            {"type":"turn.started"}
            {"type":"error","message":"Reconnecting... 5/5 (stream disconnected before completion)"}
            {"type":"error","message":"stream disconnected before completion: Transport error: error decoding response body"}
            """
        let result = try #require(parse(.codex, text))
        #expect(result.outcome == .error && result.message?.hasPrefix("stream disconnected") == true)
        #expect(ErrorClassifier().classify(result.message ?? "", now: Date()).class == .transient)
        #expect(parse(.codex, #"{"type":"thread.started","thread_id":"t4"}"#) == nil, "killed mid-turn: no result")
    }

    @Test func aReroutedModelIsTheModelThatRan() throws {
        let text = """
            {"type":"item.completed","item":{"id":"item_0","type":"error","message":"model rerouted: gpt-5 -> gpt-5-mini (high demand)"}}
            {"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":5}}
            """
        #expect(parse(.codex, text)?.model == "gpt-5-mini")
        #expect(parse(.codex, text)?.outcome == .success)
    }
}

@Suite struct GeminiStreamParserTests {
    @Test func theStreamFixtureParsesToItsNumbers() throws {
        let result = try #require(parse(.gemini, try agentFixture("gemini-stream.jsonl")))
        #expect(
            result
                == AgentResult(
                    outcome: .success, isError: false, turns: nil, inputTokens: 50, outputTokens: 200, cacheReadTokens: 0,
                    cacheWriteTokens: 0, costMicros: nil, model: "gemini-2.5-pro", sessionID: "abc123", message: "Here are the files..."))
        let table = PricingTable(["gemini-2.5-pro": ModelPrice(inputPerMillion: 1_250_000, outputPerMillion: 10_000_000)])
        #expect(AgentFormat.gemini.price(result, with: table) == 2063, "50 × $1.25/M + 200 × $10/M = $0.0020625")
    }

    @Test func theTurnLimitIsMaxTurnsEvenWhenTheResultSaysSuccess() throws {
        let text = """
            {"type":"init","timestamp":"t","session_id":"s","model":"gemini-2.5-pro"}
            {"type":"error","timestamp":"t","severity":"error","message":"Maximum session turns exceeded"}
            {"type":"result","timestamp":"t","status":"success","stats":{"total_tokens":250,"input_tokens":50,"output_tokens":200}}
            """
        let result = try #require(parse(.gemini, text))
        #expect(result.outcome == .maxTurns && result.isError)
    }

    @Test func aQuotaErrorResultIsAFailureWithItsMessageAndTheModelComesFromStats() throws {
        let text = """
            {"type":"init","timestamp":"t","session_id":"s2","model":"auto-gemini-3"}
            {"type":"message","timestamp":"t","role":"assistant","content":"Let me ","delta":true}
            {"type":"error","timestamp":"t","severity":"warning","message":"Loop detected, stopping execution"}
            {"type":"result","timestamp":"t","status":"error","error":{"type":"TerminalQuotaError","message":"You have exhausted your daily quota on this model."},"stats":{"total_tokens":43498,"input_tokens":20846,"output_tokens":62,"cached":12000,"models":{"gemini-3.1-pro-preview":{"total_tokens":43498},"gemini-2.5-flash":{"total_tokens":10}}}}
            """
        let result = try #require(parse(.gemini, text))
        #expect(result.outcome == .error && result.message == "You have exhausted your daily quota on this model.")
        #expect(result.model == "gemini-3.1-pro-preview" && result.cacheReadTokens == 12000 && result.inputTokens == 20846)
        let errorOnly = #"{"type":"result","status":"error","stats":{}}"#
        #expect(parse(.gemini, errorOnly)?.message == "gemini reported status error")
        #expect(parse(.gemini, #"{"type":"init","session_id":"x","model":"m"}"#) == nil)
    }
}

@Suite struct AiderOutputParserTests {
    @Test func theOutputFixtureParsesToItsNumbers() throws {
        let result = try #require(parse(.aider, try agentFixture("aider-output.txt")))
        #expect(
            result
                == AgentResult(
                    outcome: .success, isError: false, turns: 1, inputTokens: 2400, outputTokens: 86, cacheReadTokens: 0,
                    cacheWriteTokens: 1100, costMicros: 8200, model: "anthropic/claude-sonnet-4-20250514"))
    }

    @Test func exchangesAreSummedTheSessionCostIsTheTotalAndWrappedLinesAreJoined() throws {
        let text = """
            Model: gpt-4o with diff edit format
            Tokens: 12k sent, 10k cache hit, 300 received. Cost: $0.03 message, $0.03 session.
            Tokens: 1.5k sent, 2.2k cache write, 1.0k cache hit,
            900 received.
            Cost: $0.0150 message, $0.0450 session.
            Applied edit to app.py
            """
        let result = try #require(parse(.aider, text))
        #expect(result.turns == 2 && result.inputTokens == 13_500 && result.outputTokens == 1_200)
        #expect(result.cacheReadTokens == 11_000 && result.cacheWriteTokens == 2_200 && result.costMicros == 45_000)
        #expect(result.model == "gpt-4o" && result.outcome == .success)
    }

    @Test func anAPIFailureAfterWhichAiderExitsZeroIsAnError() throws {
        let text = """
            Aider v0.86.1
            Main model: anthropic/claude-sonnet-4-20250514 with diff edit format
            litellm.RateLimitError: AnthropicException - {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}
            The API provider has rate limited you. Try again later or check your quotas.
            Retrying in 0.2 seconds...
            litellm.AuthenticationError: AnthropicException - invalid x-api-key
            The API provider is not able to authenticate you. Check your API key.
            """
        let result = try #require(parse(.aider, text))
        #expect(result.outcome == .error && result.isError && result.costMicros == nil && result.turns == nil)
        #expect(result.message?.contains("invalid x-api-key") == true, "\(result.message ?? "")")
        #expect(!(result.message ?? "").contains("Retrying in"))
        #expect(ErrorClassifier().classify(result.message ?? "", now: Date()).class == .permanent)
    }

    @Test func anErrorFollowedByASuccessfulRetryIsASuccess() throws {
        let text = """
            litellm.InternalServerError: InternalServerError: OpenAIException - Connection error.
            The API provider's servers are down or overloaded.
            Retrying in 0.5 seconds...
            Tokens: 800 sent, 40 received.
            Applied edit to app.py
            """
        let result = try #require(parse(.aider, text))
        #expect(result.outcome == .success && result.costMicros == nil && result.inputTokens == 800)
        #expect(parse(.aider, "Aider v0.86.1\nGit repo: .git with 3 files\n") == nil, "only a banner: aider died before any exchange")
    }
}

@Suite struct PricingTableTests {
    @Test func aModelIsFoundExactlyWithoutItsProviderOrByTheLongestPrefix() {
        let table = PricingTable([
            "gpt-5": ModelPrice(inputPerMillion: 1_250_000, outputPerMillion: 10_000_000),
            "gpt-5-mini": ModelPrice(inputPerMillion: 250_000, outputPerMillion: 2_000_000),
        ])
        #expect(table.price(for: "gpt-5")?.inputPerMillion == 1_250_000)
        #expect(table.price(for: "openai/gpt-5-mini")?.inputPerMillion == 250_000)
        #expect(table.price(for: "gpt-5-mini-2025-08-07")?.inputPerMillion == 250_000, "the longest prefix wins")
        #expect(table.price(for: "gpt-5-2025-08-07")?.inputPerMillion == 1_250_000)
        #expect(table.price(for: "claude-sonnet-4") == nil)
    }

    @Test func costsRoundHalfUpToAMicroDollarAndCacheDefaultsToTheInputPrice() {
        let price = ModelPrice(inputPerMillion: 3_000_000, outputPerMillion: 15_000_000)
        #expect(price.cost(input: 1, output: 0, cacheRead: 0, cacheWrite: 0) == 3)
        #expect(price.cost(input: 0, output: 0, cacheRead: 1_000_000, cacheWrite: 0) == 3_000_000)
        #expect(ModelPrice(inputPerMillion: 500_000, outputPerMillion: 0).cost(input: 1, output: 0, cacheRead: 0, cacheWrite: 0) == 1, "0.5 rounds up")
        #expect(price.cost(input: Int.max, output: 0, cacheRead: 0, cacheWrite: 0) == .max / 1_000_000, "saturates, never traps")
    }
}
