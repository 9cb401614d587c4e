import Foundation
import KeelAgents
import KeelCore
import KeelGit
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real Claude Code CLI (2.1.327, from PyPI's claude-agent-sdk wheel) run by a real `keel run`
/// against Anthropic's Messages API on loopback: the project is what `keel init --agent
/// claude-code` writes, with only the executable's path and the model endpoint changed.
@Suite(.serialized, .enabled(if: RealAgentCLI.claude.isAvailable, Comment(rawValue: RealAgentCLI.claude.skipMessage)))
struct RealClaudeCodeTests {
    /// A project initialised for Claude Code, run against `server`.
    struct Rig {
        let project: UserProject
        let claude: String

        static func make(_ prefix: String) async throws -> Rig {
            let claude = try RealAgentCLI.claude.executable()
            let project = try await UserProject.make(prefix: prefix)
            let initRun = try await keel(["init", "--agent", "claude-code"], in: project.repo)
            #expect(initRun.outcome.termination == .exited(0), "\(initRun.stderr)")
            return Rig(project: project, claude: claude)
        }

        var configPath: String { project.repo + "/keel.yml" }

        /// Rewrites keel.yml: the agent's executable becomes the real binary's path, then `edit`.
        func configure(_ edit: (String) -> String = { $0 }) throws {
            let text = try String(contentsOfFile: configPath, encoding: .utf8)
            let command = #"command: ["claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits", "--allowedTools", "Read,Edit,Write,Glob,Grep,Bash"]"#
            #expect(text.contains(command), "keel init --agent claude-code wrote another command line:\n\(text)")
            let changed = edit(text.replacingOccurrences(of: #"command: ["claude", "#, with: #"command: ["\#(claude)", "#))
            try Data(changed.utf8).write(to: URL(fileURLWithPath: configPath))
        }

        /// Submits one issue and runs `keel run` against `server` until `settled` holds for item 1
        /// (bounded); returns the store and what `keel run` logged.
        func run(
            against server: AnthropicMessagesServer, key: String? = nil, cliRetries: Int? = 1, settled: @escaping (WorkItem) -> Bool
        ) async throws -> (store: SQLiteStore, item: WorkItem, log: String) {
            let issue = try project.writeIssue("Add greeting-1.txt saying hello.\n")
            let submit = try await keel(["submit", "--title", "Say hello", "--body-file", issue], in: project.repo)
            #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
            let home = project.tmp.path("home")
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let keelRun = try KeelServerProcess(
                config: configPath, in: project.repo, log: project.tmp.path("run.log"),
                environment: [
                    // The model endpoint and its key, as a team sets them for Claude Code.
                    "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": key ?? server.script.apiKey,
                    // A scratch home: the CLI writes its settings and sessions there.
                    "HOME": home,
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                ].merging(
                    // The CLI's own retries of a 529 (ten by default) would take minutes.
                    cliRetries.map { ["CLAUDE_CODE_MAX_RETRIES": String($0)] } ?? [:]
                ) { $1 })
            let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
            let done = try await eventually(seconds: 240) { try await store.item(1).map(settled) ?? false }
            keelRun.signal(SIGTERM)
            _ = await keelRun.waitForExit()
            let item = try #require(try await store.item(1))
            #expect(done, "item 1 is \(item.state); keel run said:\n\(keelRun.log)")
            return (store, item, keelRun.log)
        }
    }

    static let greeting = [(path: "greeting-1.txt", content: "hello from Claude Code\n")]

    /// The `result` line of a run's transcript (what the CLI printed last).
    static func resultLine(of run: AgentRun) throws -> [String: Any] {
        let transcript = try String(contentsOfFile: try #require(run.transcriptPath), encoding: .utf8)
        let line = try #require(
            transcript.split(separator: "\n").last { $0.contains(#""type":"result""#) }, "no result line in:\n\(transcript)")
        let json = line[try #require(line.firstIndex(of: "{"))...]
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func initForClaudeCodeTakesAnItemToAMergeAtTheCostClaudeCodeReported() async throws {
        let rig = try await Rig.make("keel-claude")
        defer { rig.project.tmp.remove() }
        try rig.configure()
        try await AnthropicMessagesServer.withServer(.init(files: Self.greeting, summary: "Wrote greeting-1.txt.")) { server in
            let (store, item, log) = try await rig.run(against: server) { $0.state == .merged || $0.state == .needsHuman }
            #expect(item.state == .merged, "\(log)")
            let merged = try await rig.project.repos.git.run(["show", "main:greeting-1.txt"], in: rig.project.origin)
            #expect(merged == "hello from Claude Code\n")

            // The CLI's own figure is the item's cost.
            let runs = try await store.agentRuns(of: 1)
            #expect(runs.map(\.outcome) == ["success"])
            let result = try Self.resultLine(of: try #require(runs.first))
            let reported = try #require(result["total_cost_usd"] as? Double)
            #expect(reported > 0, "Claude Code prices a known model: \(result)")
            let status = try await keel(["status", "1", "--json"], in: rig.project.repo)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            let summary = try #require(json["item"] as? [String: Any], "\(status.stdout)")
            #expect(summary["cost_micros"] as? Int == Int((reported * 1_000_000).rounded()), "\(status.stdout)")
            #expect((result["permission_denials"] as? [Any])?.isEmpty == true, "\(result)")

            // It called the model with the key it was given, on the Messages API.
            let requests = server.messageRequests
            #expect(requests.count >= 2 && requests.allSatisfy { $0.header("x-api-key") == server.script.apiKey })
        }
    }

    @Test func aRunInClaudeCodesDefaultPermissionModeFailsAsPermissionDeniedNamingTheWrite() async throws {
        let rig = try await Rig.make("keel-claude-denied")
        defer { rig.project.tmp.remove() }
        // Keel's command line before: no permission mode and no allowed tools, so headless Claude
        // Code refuses every edit (and says success).
        try rig.configure {
            $0.replacingOccurrences(of: #", "--permission-mode", "acceptEdits", "--allowedTools", "Read,Edit,Write,Glob,Grep,Bash""#, with: "")
        }
        try await AnthropicMessagesServer.withServer(.init(files: Self.greeting)) { server in
            let (store, item, log) = try await rig.run(against: server) { $0.state == .needsHuman || $0.state == .merged }
            #expect(item.state == .needsHuman, "\(log)")
            #expect(item.attempt == 1, "a refused run is not retried: it would be refused again")
            let failure = try #require(try await store.history(of: 1).last)
            #expect(failure.summary.contains("permission denied") && failure.summary.contains("Write"), "\(failure.summary)")
            #expect(!failure.summary.contains("without changing any file"), "\(failure.summary)")
            let runs = try await store.agentRuns(of: 1)
            #expect(runs.map(\.outcome) == ["error"])
            // What the real CLI printed: success, with the refused Write listed.
            let result = try Self.resultLine(of: try #require(runs.first))
            #expect(result["subtype"] as? String == "success" && result["is_error"] as? Bool == false, "\(result)")
            let denials = try #require(result["permission_denials"] as? [[String: Any]])
            #expect(denials.map { $0["tool_name"] as? String } == ["Write"])
        }
    }

    @Test func anOverloadedModelIsRetriedByKeelAndTheItemStillMerges() async throws {
        let rig = try await Rig.make("keel-claude-529")
        defer { rig.project.tmp.remove() }
        try rig.configure { $0.replacingOccurrences(of: "initial_seconds: 30", with: "initial_seconds: 1") }
        // Two 529s: the CLI's one retry (CLAUDE_CODE_MAX_RETRIES=1) and its give-up; the next run is answered.
        let script = AnthropicMessagesServer.Script(files: Self.greeting, failFirst: 2, failure: .overloaded)
        try await AnthropicMessagesServer.withServer(script) { server in
            let (store, item, log) = try await rig.run(against: server) { $0.state == .merged || $0.state == .needsHuman }
            #expect(item.state == .merged, "\(log)")
            let runs = try await store.agentRuns(of: 1)
            #expect(runs.map(\.outcome) == ["error", "success"], "one failed run, then a successful retry")
            let failure = try #require(try await store.history(of: 1).first)
            #expect(failure.summary.contains("529") && failure.summary.contains("Overloaded"), "\(failure.summary)")
            let overloaded = server.messageRequests.prefix(2)
            #expect(overloaded.count == 2)
        }
    }

    @Test func anInvalidKeyGoesToAPersonWithoutARetry() async throws {
        let rig = try await Rig.make("keel-claude-401")
        defer { rig.project.tmp.remove() }
        try rig.configure()
        try await AnthropicMessagesServer.withServer(.init(files: Self.greeting)) { server in
            // The CLI's default retries (ten, over minutes): Keel stops it at its first retry of the refused key.
            let (store, item, log) = try await rig.run(against: server, key: "sk-ant-revoked-key", cliRetries: nil) {
                $0.state == .needsHuman || $0.state == .merged
            }
            #expect(item.state == .needsHuman, "\(log)")
            #expect(item.attempt == 1, "an invalid key is not retried")
            let failure = try #require(try await store.history(of: 1).last)
            #expect(failure.summary.contains("401") && failure.summary.contains("refused the key"), "\(failure.summary)")
            #expect(server.messageRequests.count < 11, "stopped long before the CLI's ten retries: \(server.messageRequests.count) requests")
            #expect(try await store.agentRuns(of: 1).map(\.outcome) == ["error"])
            #expect(!server.messageRequests.isEmpty && server.messageRequests.allSatisfy { $0.header("x-api-key") == "sk-ant-revoked-key" })
            #expect(!log.contains("sk-ant-revoked-key") && !failure.summary.contains("sk-ant-revoked-key"), "the key is never logged")
        }
    }
}
