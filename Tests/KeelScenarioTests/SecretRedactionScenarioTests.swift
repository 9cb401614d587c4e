import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The agent does not hold Keel's secrets: through a real `keel run` with a real agent script.
@Suite struct SecretRedactionScenarioTests {
    static let adminToken = "admin-token-for-break-decisions-0002"

    @Test func anAgentRunningEnvSeesItsKindsKeyAndAgentEnvButNoneOfKeelsSecrets() async throws {
        let project = try await UserProject.make(prefix: "keel-agent-env")
        defer { project.tmp.remove() }
        let dump = project.tmp.path("agent-env.txt")
        let agent = #"""
            #!/bin/sh
            cat > /dev/null
            env > "$ENV_DUMP"
            echo "my key: $ANTHROPIC_API_KEY"
            printf 'hello from item %s\n' "$KEEL_ITEM_ID" > "greeting-$KEEL_ITEM_ID.txt"
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":1}}'

            """#
        try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
        let config = """
            forge: {local: {origin: \(project.origin)}}
            ci: {commands: [{name: tests, run: sh tests/run.sh}]}
            agent:
              kind: claude-code
              command: [./keel-agent.sh]
              env: {ENV_DUMP: \(dump), EXTRA_SETTING: from-keel-yml}
            scheduler: {workers: 1, poll_milliseconds: 50}

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        _ = try await keel(["submit", "--title", "Say hello", "--body-file", try project.writeIssue("Add a greeting.\n")], in: project.repo)
        let keelSecrets = [
            "KEEL_ADMIN_TOKEN": Self.adminToken, "KEEL_SMTP_PASSWORD": "smtp-password-0003",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-access-key-0004", "OPENAI_API_KEY": "openai-key-for-another-kind-0005",
        ]
        let modelKey = "anthropic-model-key-0006"
        let server = try KeelServerProcess(
            config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"),
            environment: keelSecrets.merging(["ANTHROPIC_API_KEY": modelKey]) { $1 })
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
        let merged = try await eventually(seconds: 180) { try await store.item(1)?.state == .merged }
        server.signal(SIGTERM)
        _ = await server.waitForExit()
        #expect(merged, "keel run said:\n\(server.log)")

        let environment = try String(contentsOfFile: dump, encoding: .utf8)
        let names = Set(environment.split(separator: "\n").compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        for (name, value) in keelSecrets {
            #expect(!names.contains(name) && !environment.contains(value), "the agent saw \(name):\n\(environment)")
        }
        #expect(environment.contains("ANTHROPIC_API_KEY=\(modelKey)"), "\(environment)")
        #expect(environment.contains("EXTRA_SETTING=from-keel-yml"), "\(environment)")
        #expect(names.isSuperset(of: ["PATH", "HOME", "KEEL_ITEM_ID", "KEEL_TASK_FILE", "KEEL_WORKSPACE"]), "\(environment)")
        // Allowed into its environment, the model key is still never kept.
        var transcripts = ""
        for case let name as String in FileManager.default.enumerator(atPath: project.repo + "/.keel/transcripts")! {
            transcripts += (try? String(contentsOfFile: project.repo + "/.keel/transcripts/" + name, encoding: .utf8)) ?? ""
        }
        #expect(transcripts.contains("my key: [REDACTED]"), "\(transcripts)")
        #expect(!transcripts.contains(modelKey))
    }
}
