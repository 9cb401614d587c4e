import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// needs_human, end to end: `keel run` alerts the configured webhook with the reason and a link,
/// the page explains, and a person answers with `keel reimplement`.
@Suite struct EscalationScenarioTests {
    @Test func aPersonIsAlertedAndReimplementStartsOverOnAFreshBranch() async throws {
        let project = try await UserProject.make(prefix: "keel-escalate")
        defer { project.tmp.remove() }
        try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { hook in
            // Attempt 1 hits an authentication failure (permanent); after `keel reimplement` the
            // prompt says to start over and the agent does the work.
            let agent = #"""
                #!/bin/sh
                prompt=$(cat)
                if printf '%s' "$prompt" | grep -q 'A person asked to start over'; then
                    printf 'hello from item %s\n' "$KEEL_ITEM_ID" > "greeting-$KEEL_ITEM_ID.txt"
                    echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":1}}'
                else
                    echo '{"type":"result","subtype":"success","is_error":true,"api_error_status":401,"terminal_reason":"api_error","num_turns":1,"result":"Invalid API key · Please run /login","total_cost_usd":0,"usage":{"input_tokens":0,"output_tokens":0}}'
                fi

                """#
            try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
            let config = """
                forge: {local: {origin: \(project.origin)}}
                ci: {commands: [{name: tests, run: sh tests/run.sh}]}
                agent: {kind: command, command: [./keel-agent.sh]}
                scheduler: {workers: 1, poll_milliseconds: 50}
                alerts:
                  public_url: "https://keel.example.com"
                  webhook: {url: "\(hook.url)/keel"}

                """
            try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
            _ = try await keel(["submit", "--title", "Say hello", "--body-file", try project.writeIssue("Add a greeting.\n")], in: project.repo)

            let server = try KeelServerProcess(config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"))
            let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
            let alerted = await eventually(seconds: 120) { hook.requests.contains { $0.text.contains("needs_human") } }
            #expect(alerted, "no alert; keel run said:\n\(server.log)")
            let alert = hook.requests.first { $0.text.contains("needs_human") }?.text ?? ""
            #expect(alert.contains("Invalid API key") && alert.contains("https://keel.example.com/items/1") && alert.contains("keel reimplement 1"), "\(alert)")

            // The page the alert links to, served by keel run.
            let page = try await keelPage(port: server.servingPort.map(String.init) ?? "", path: "/items/1")
            #expect(page.contains("Why it needs a person") && page.contains("Invalid API key") && page.contains("keel reimplement 1"), "\(page)")

            let answer = try await keel(["reimplement", "1", "--note", "wrong key was fixed; start over"], in: project.repo)
            #expect(answer.outcome.termination == .exited(0), "\(answer.stderr)")
            #expect(answer.stdout.contains("needs_human → queued"))
            let merged = try await eventually(seconds: 120) { try await store.item(1)?.state == .merged }
            server.signal(SIGTERM)
            _ = await server.waitForExit()
            #expect(merged, "\(server.log)")
            #expect(try await project.baseLog().first == "Merge keel/item-1-v2: #1 Say hello")
            #expect(hook.requests.filter { $0.text.contains("needs_human") }.count == 1, "one alert per escalation")
        }
    }
}
