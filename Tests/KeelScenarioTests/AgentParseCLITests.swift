import Foundation
import KeelAgents
import KeelTestSupport
import Testing

/// `keel agent parse` on the recorded fixtures, as a person wiring up an agent runs it.
@Suite struct AgentParseCLITests {
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/agents/\(name)").standardizedFileURL.path
    }

    struct Normalized: Decodable, Equatable {
        var outcome: String
        var is_error: Bool
        var turns: Int?
        var input_tokens: Int
        var output_tokens: Int
        var cache_read_tokens: Int
        var cache_write_tokens: Int
        var cost_micros: Int64?
        var model: String?
        var session_id: String?
        var error_class: String?
        var message: String?
    }

    func parse(_ format: String, _ fixture: String, in dir: String, extra: [String] = []) async throws -> (Normalized?, CapturedOutput) {
        let run = try await keel(["agent", "parse", "--format", format, "--json"] + extra, in: dir, stdin: try String(contentsOfFile: Self.fixture(fixture), encoding: .utf8))
        let object = try? JSONDecoder().decode(Normalized.self, from: Data(run.stdout.utf8))
        return (object, run)
    }

    @Test func everyFixtureParsesToItsNumbers() async throws {
        try await withTemporaryDirectory(prefix: "keel-agent-parse") { tmp in
            let (claude, _) = try await parse("claude-code", "claude-code-stream-success.jsonl", in: tmp.path)
            #expect(
                claude
                    == Normalized(
                        outcome: "success", is_error: false, turns: 2, input_tokens: 18, output_tokens: 424, cache_read_tokens: 17254,
                        cache_write_tokens: 25067, cost_micros: 247_224, model: "claude-opus-4-5-20251101",
                        session_id: "40e7b02d-c0f9-4876-9010-f514d4eb0603", error_class: nil,
                        message: "Here are the files in the current directory."))
            let (codex, codexRun) = try await parse("codex", "codex-exec-success.jsonl", in: tmp.path)
            #expect(codex?.outcome == "success" && codex?.input_tokens == 24763 && codex?.cache_read_tokens == 24448, "\(codexRun.stderr)")
            #expect(codex?.output_tokens == 122 && codex?.turns == 1 && codex?.cost_micros == nil, "no cost and no pricing: null")
            let (gemini, _) = try await parse("gemini", "gemini-stream.jsonl", in: tmp.path)
            #expect(gemini?.input_tokens == 50 && gemini?.output_tokens == 200 && gemini?.model == "gemini-2.5-pro" && gemini?.session_id == "abc123")
            let (aider, _) = try await parse("aider", "aider-output.txt", in: tmp.path)
            #expect(aider?.cost_micros == 8200 && aider?.input_tokens == 2400 && aider?.cache_write_tokens == 1100 && aider?.output_tokens == 86)
            #expect(aider?.model == "anthropic/claude-sonnet-4-20250514")
        }
    }

    @Test func costsThatAreNotReportedArePricedFromKeelYml() async throws {
        try await withTemporaryDirectory(prefix: "keel-agent-price") { tmp in
            let yml = """
                forge: {local: {origin: ./origin.git}}
                agent: {kind: codex, model: gpt-5-codex}
                pricing:
                  gpt-5-codex: {input: 1.25, output: 10, cache_read: 0.125}
                  gemini-2.5-pro: {input: 1.25, output: 10}

                """
            try Data(yml.utf8).write(to: URL(fileURLWithPath: tmp.path("keel.yml")))
            let (codex, run) = try await parse("codex", "codex-exec-success.jsonl", in: tmp.path)
            #expect(codex?.cost_micros == 4670 && codex?.model == "gpt-5-codex", "\(run.stdout)\(run.stderr)")
            let (gemini, _) = try await parse("gemini", "gemini-stream.jsonl", in: tmp.path)
            #expect(gemini?.cost_micros == 2063)
            let (other, _) = try await parse("codex", "codex-exec-success.jsonl", in: tmp.path, extra: ["--model", "o3"])
            #expect(other?.cost_micros == nil && other?.model == "o3", "a model the table does not know stays unpriced")
        }
    }

    @Test func aFailureIsClassifiedAndAnOutputWithoutAResultIsAClearError() async throws {
        try await withTemporaryDirectory(prefix: "keel-agent-fail") { tmp in
            let failed = tmp.path("failed.jsonl")
            try Data(
                #"""
                {"type":"thread.started","thread_id":"t"}
                {"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Missing bearer or basic authentication in header"}}
                """#.utf8
            ).write(to: URL(fileURLWithPath: failed))
            let run = try await keel(["agent", "parse", "--format", "codex", "--json"], in: tmp.path, stdin: try String(contentsOfFile: failed, encoding: .utf8))
            let result = try JSONDecoder().decode(Normalized.self, from: Data(run.stdout.utf8))
            #expect(result.outcome == "error" && result.is_error && result.error_class == "permanent")

            let truncated = tmp.path("truncated.jsonl")
            try Data(#"{"type":"system","subtype":"init","model":"m"}"#.utf8).write(to: URL(fileURLWithPath: truncated))
            let none = try await keel(["agent", "parse", "--format", "claude-code"], in: tmp.path, stdin: try String(contentsOfFile: truncated, encoding: .utf8))
            #expect(none.outcome.termination == .exited(1))
            #expect(none.stderr.contains("no claude-code result") && none.stderr.contains("check --format"), "\(none.stderr)")
            let badFormat = try await keel(["agent", "parse", "--format", "cursor"], in: tmp.path, stdin: try String(contentsOfFile: truncated, encoding: .utf8))
            #expect(badFormat.outcome.termination != .exited(0) && badFormat.stderr.contains("codex"))
        }
    }
}
