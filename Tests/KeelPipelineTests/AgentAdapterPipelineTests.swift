import Foundation
import KeelCore
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// Each agent kind's output read by its own adapter, through the real pipeline.
extension PipelineTests {
    @Test func aCodexRunIsReadFromItsJSONLAndPricedFromThePricingTable() async throws {
        let agent = #"""
            echo "codex got: $1" | head -c 60 > /dev/null
            echo 'item' > "codex-$KEEL_ITEM_ID.txt"
            echo '{"type":"thread.started","thread_id":"th-1"}'
            echo '{"type":"turn.started"}'
            echo '{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion)"}'
            echo '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Added the file."}}'
            echo '{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}'

            """#
        let rig = try await rig(
            agent: agent, kind: "codex",
            extra: "pricing: {gpt-5-codex: {input: 1.25, output: 10, cache_read: 0.125}}")
        defer { rig.tmp.remove() }
        // agent.model names the model codex's --json never prints.
        var environment = rig.environment
        environment.config.agent.model = "gpt-5-codex"
        let item = try await submit(rig, "codex task")
        try await Scheduler(environment: environment).runUntilSettled()

        #expect(try await rig.store.item(item.id)?.state == .merged, "\(rig.events.all.joined(separator: "\n"))")
        let line = try #require(try await rig.store.costReport(by: .issue, since: nil).first)
        #expect(line.costMicros == 4670 && line.inputTokens == 24763 && line.cacheReadTokens == 24448 && line.unpricedRuns == 0)
        let developed = try #require(try await rig.store.transitions(of: item.id).first { $0.to == .pushing })
        #expect(developed.reason.contains("1 turn, $0.0047"), "\(developed.reason)")
    }

    @Test func aiderExitingZeroAfterAnAuthenticationFailureIsNotASuccess() async throws {
        let agent = """
            echo 'Aider v0.86.1'
            echo 'Main model: anthropic/claude-sonnet-4-20250514 with diff edit format'
            echo 'litellm.AuthenticationError: AnthropicException - {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'
            echo 'The API provider is not able to authenticate you. Check your API key.'
            echo 'half' > half-done.txt
            exit 0

            """
        let rig = try await rig(agent: agent, kind: "aider")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "aider task")
        try await rig.scheduler.runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman, "a permanent failure goes to a person at once")
        #expect(final.attempt == 1)
        let failure = try #require(try await rig.store.history(of: item.id).last)
        #expect(failure.summary.contains("invalid x-api-key") && failure.summary.contains("permanent"), "\(failure.summary)")
        #expect(try await rig.repos.git.run(["log", "--format=%s", "main"], in: rig.origin).contains("aider task") == false)
        let runs = try await rig.store.agentRuns(of: item.id)
        #expect(runs.map(\.outcome) == ["error"])
    }

    @Test func aClaudeCodeRunRefusedItsEditsIsAPermissionFailureForAPersonNotNoChanges() async throws {
        // What headless Claude Code prints in its default permission mode: the Write was refused,
        // yet the result says success.
        let agent = #"""
            cat > /dev/null
            echo '{"type":"system","subtype":"init","cwd":"'"$PWD"'","session_id":"s-1","tools":["Read","Write","Edit","Bash"],"model":"claude-sonnet-4-5","permissionMode":"default","claude_code_version":"2.1.327"}'
            echo '{"type":"assistant","message":{"model":"claude-sonnet-4-5","role":"assistant","content":[{"type":"tool_use","id":"toolu_01","name":"Write","input":{"file_path":"'"$PWD"'/hello.txt","content":"hi"}}]},"session_id":"s-1"}'
            echo '{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","is_error":true,"content":"Claude requested permissions to write to '"$PWD"'/hello.txt, but you haven'"'"'t granted it yet."}]},"session_id":"s-1"}'
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"I could not write the file.","session_id":"s-1","total_cost_usd":0.0123,"usage":{"input_tokens":120,"output_tokens":40},"permission_denials":[{"tool_name":"Write","tool_use_id":"toolu_01","tool_input":{"file_path":"'"$PWD"'/hello.txt","content":"hi"}}],"terminal_reason":"completed"}'

            """#
        let rig = try await rig(agent: agent, kind: "claude-code")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "write a greeting")
        try await rig.scheduler.runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman, "a refused run goes to a person: \(final.state)")
        #expect(final.attempt == 1, "a refused run is not retried")
        let failure = try #require(try await rig.store.history(of: item.id).last)
        #expect(failure.summary.contains("permission denied") && failure.summary.contains("Write"), "\(failure.summary)")
        #expect(!failure.summary.contains("without changing any file"), "\(failure.summary)")
        let runs = try await rig.store.agentRuns(of: item.id)
        #expect(runs.map(\.outcome) == ["error"])
    }

    @Test func aGeminiQuotaErrorIsClassifiedFromItsResultLine() async throws {
        let agent = #"""
            echo '{"type":"init","timestamp":"t","session_id":"g1","model":"gemini-2.5-pro"}'
            echo '{"type":"result","timestamp":"t","status":"error","error":{"type":"TerminalQuotaError","message":"You have exhausted your daily quota on this model."},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0}}'
            exit 1

            """#
        let rig = try await rig(agent: agent, kind: "gemini")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "gemini task")
        try await rig.scheduler.runUntilSettled()
        let failure = try #require(try await rig.store.history(of: item.id).first)
        #expect(failure.signature?.hasPrefix("agent_error:") == true, "\(failure.signature ?? "")")
        #expect(failure.summary.contains("exhausted your daily quota"), "\(failure.summary)")
        let cost = try await rig.store.costReport(by: .agent, since: nil)
        #expect(cost.first?.key == "gemini" && cost.first?.runs ?? 0 >= 1, "every run is in the ledger")
        #expect(cost.first?.unpricedRuns == cost.first?.runs, "unpriced: no cost reported, no pricing table")
    }
}
