import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Secrets never reach the store, the ledger or a person's screen, and the agent does not hold
/// Keel's own: both through a real `keel run` with a real agent script.
@Suite struct SecretRedactionScenarioTests {
    static let serviceToken = "plain-looking-service-value-0001"
    static let adminToken = "admin-token-for-break-decisions-0002"

    /// Every value that must be found nowhere; the PEM block by its body's lines (it may be stored
    /// escaped), each long enough to be unique.
    static var secrets: [String] {
        FakeCredentials.all.filter { $0 != FakeCredentials.pem } + FakeCredentials.pemBody.split(separator: "\n").map(String.init)
            + [serviceToken, adminToken]
    }

    @Test func anAgentPrintingEveryCredentialShapeLeavesNoneInTheDatabaseExportTranscriptsLogStatusPagesOrAlerts() async throws {
        let project = try await UserProject.make(prefix: "keel-redaction")
        defer { project.tmp.remove() }
        try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { hook in
            let escapedPEM = FakeCredentials.pem.replacingOccurrences(of: "\n", with: "\\n")
            // It prints every shape on stdout and stderr, the secret-named variable keel.yml gives it,
            // the admin token it digs out of keel's own environment, and then fails with all of them
            // in its result: a permanent error, whose message becomes the reason a person reads.
            let agent = #"""
                #!/bin/sh
                cat > /dev/null
                echo "github: \#(FakeCredentials.github) oauth: \#(FakeCredentials.githubOAuth)"
                echo "app: \#(FakeCredentials.githubApp) user: \#(FakeCredentials.githubUser)"
                echo "fine-grained: \#(FakeCredentials.githubFineGrained)"
                echo "anthropic=\#(FakeCredentials.anthropic) openai=\#(FakeCredentials.openAI)"
                echo "aws \#(FakeCredentials.aws) slack \#(FakeCredentials.slack)"
                echo "jwt: \#(FakeCredentials.jwt)"
                printf '%s\n' '\#(FakeCredentials.pem)'
                echo "service token: $SERVICE_TOKEN"
                tr '\0' '\n' < /proc/$PPID/environ | grep '^KEEL_ADMIN_TOKEN=' || true
                echo "on stderr: \#(FakeCredentials.github) \#(FakeCredentials.aws) $SERVICE_TOKEN" >&2
                printf '%s\n' '{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"terminal_reason":"api_error","num_turns":1,"result":"Invalid API key \#(FakeCredentials.anthropic)\n\#(FakeCredentials.github) \#(FakeCredentials.githubFineGrained) \#(FakeCredentials.openAI) \#(FakeCredentials.jwt) \#(FakeCredentials.aws) \#(FakeCredentials.slack) \#(escapedPEM) '"$SERVICE_TOKEN"'","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}'

                """#
            try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
            let config = """
                forge: {local: {origin: \(project.origin)}}
                agent:
                  kind: command
                  command: [./keel-agent.sh]
                  env: {SERVICE_TOKEN: \(Self.serviceToken)}
                scheduler: {workers: 1, poll_milliseconds: 50}
                alerts:
                  public_url: "https://keel.example.com"
                  webhook: {url: "\(hook.url)/keel"}

                """
            try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
            let submit = try await keel(["submit", "--title", "Say hello", "--body-file", try project.writeIssue("Add a greeting.\n")], in: project.repo)
            #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")

            let server = try KeelServerProcess(
                config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"),
                environment: ["KEEL_ADMIN_TOKEN": Self.adminToken])
            let database = project.repo + "/.keel/keel.sqlite"
            let store = try SQLiteStore(path: database)
            let escalated = try await eventually(seconds: 120) { try await store.item(1)?.state == .needsHuman }
            let alerted = await eventually(seconds: 60) { hook.requests.contains { $0.text.contains("needs_human") } }
            #expect(escalated && alerted, "keel run said:\n\(server.log)")

            // Every page keel run serves about the item and the ledger.
            let port = server.servingPort.map(String.init) ?? ""
            var served: [String: String] = [:]
            for path in ["/items/1", "/api/items/1", "/api/items", "/api/ledger", "/metrics"] {
                served[path] = try await keelPage(port: port, path: path)
            }
            #expect(served["/items/1"]?.contains("Invalid API key [REDACTED]") == true, "\(served["/items/1"] ?? "")")
            let databaseWhileRunning = Self.bytes(database) + Self.bytes(database + "-wal")
            server.signal(SIGTERM)
            #expect(await server.waitForExit() == 0, "\(server.log)")

            let exportPath = project.tmp.path("audit.json")
            let export = try await keel(["ledger", "export", "--out", exportPath], in: project.repo)
            #expect(export.outcome.termination == .exited(0), "\(export.stderr)")
            let status = try await keel(["status"], in: project.repo).stdout
            let itemStatus = try await keel(["status", "1"], in: project.repo).stdout
            let itemJSON = try await keel(["status", "1", "--json"], in: project.repo).stdout
            #expect(itemJSON.contains("Invalid API key [REDACTED]"), "\(itemJSON)")
            var transcripts = ""
            for case let name as String in FileManager.default.enumerator(atPath: project.repo + "/.keel/transcripts")! {
                transcripts += (try? String(contentsOfFile: project.repo + "/.keel/transcripts/" + name, encoding: .utf8)) ?? ""
            }
            // The transcripts kept the run, with the secrets replaced, including the one the agent
            // found outside its own environment.
            #expect(transcripts.contains("github: [REDACTED] oauth: [REDACTED]"), "\(transcripts)")
            #expect(transcripts.contains("service token: [REDACTED]"), "\(transcripts)")
            #expect(transcripts.contains("KEEL_ADMIN_TOKEN=[REDACTED]"), "\(transcripts)")
            #expect(transcripts.contains("on stderr: [REDACTED] [REDACTED] [REDACTED]"), "\(transcripts)")

            let places: [(String, Data)] = [
                ("the database while keel run ran", databaseWhileRunning),
                ("the database after it stopped", Self.bytes(database) + Self.bytes(database + "-wal")),
                ("the ledger export", Self.bytes(exportPath)),
                ("the transcripts", Data(transcripts.utf8)),
                ("keel run's log", Data(server.log.utf8)),
                ("keel status", Data((status + itemStatus + itemJSON).utf8)),
                ("the alerts", Data(hook.requests.map(\.text).joined().utf8)),
            ] + served.map { ("the page \($0.key)", Data($0.value.utf8)) }
            for (place, bytes) in places {
                #expect(!bytes.isEmpty, "\(place) is empty")
                for secret in Self.secrets {
                    #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(place) holds \(secret)")
                }
            }
        }
    }

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

    static func bytes(_ path: String) -> Data {
        (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
    }
}
