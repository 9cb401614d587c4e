import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a person is told about a failure: its evidence (the failing CI output's tail, the guard's
/// refusal lines, the agent's stderr tail) in `keel status ID`, `/api/items/{id}`, the item's page
/// and the needs_human alert, whose link names the port `keel run --port 0` really listens on.
@Suite struct FailureEvidenceScenarioTests {
    @Test func everyFailureShowsItsEvidenceWhereverAPersonLooks() async throws {
        let project = try await UserProject.make(prefix: "keel-evidence")
        defer { project.tmp.remove() }
        try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { hook in
            // Item 1 fails CI, item 2 writes conflict markers (the guard refuses its push), item 3 exits 3.
            let agent = #"""
                #!/bin/sh
                cat > /dev/null
                case "$KEEL_ITEM_ID" in
                1) printf 'goodbye from item 1\n' > greeting-1.txt ;;
                2) printf 'hello\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> other\n' > greeting-2.txt ;;
                3) echo "connecting to the model endpoint" >&2; echo "fatal: model endpoint unreachable (quota-xyz)" >&2; exit 3 ;;
                esac
                echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.01,"usage":{"input_tokens":1,"output_tokens":1}}'

                """#
            try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
            // No public_url: the alert links must follow the port keel run picks.
            let config = """
                forge: {local: {origin: \(project.origin)}}
                ci: {commands: [{name: tests, run: sh tests/run.sh}]}
                agent: {kind: command, command: [./keel-agent.sh]}
                scheduler: {workers: 1, poll_milliseconds: 50, breaker_threshold: 1}
                alerts:
                  webhook: {url: "\(hook.url)/keel"}

                """
            try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
            for title in ["CI fails", "Guard refuses", "Agent exits 3"] {
                let filed = try await keel(["submit", "--title", title, "--body-file", try project.writeIssue("Add a greeting.\n")], in: project.repo)
                #expect(filed.outcome.termination == .exited(0), "\(filed.stderr)")
            }

            let server = try KeelServerProcess(config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"))
            let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
            let escalated = try await eventually(seconds: 180) {
                try await store.items().filter { $0.state == .needsHuman }.count == 3
            }
            let alerted = await eventually(seconds: 60) { hook.requests.filter { $0.text.contains("needs_human") }.count == 3 }
            let port = server.servingPort.map(String.init) ?? ""
            var api: [Int: String] = [:]
            var pages: [Int: String] = [:]
            for id in 1...3 {
                api[id] = try await keelPage(port: port, path: "/api/items/\(id)")
                pages[id] = try await keelPage(port: port, path: "/items/\(id)")
            }
            server.signal(SIGTERM)
            _ = await server.waitForExit()
            #expect(escalated && alerted, "\(server.log)")
            #expect(!port.isEmpty && port != "0" && port != "8765", "\(server.log)")

            let evidence = [1: "FAIL greeting-1.txt", 2: "conflict markers", 3: "fatal: model endpoint unreachable (quota-xyz)"]
            let alerts = hook.requests.map(\.text).filter { $0.contains("needs_human") }
            for (id, line) in evidence.sorted(by: { $0.key < $1.key }) {
                let status = try await keel(["status", String(id)], in: project.repo)
                #expect(status.stdout.contains("last failure") && status.stdout.contains(line), "#\(id): \(status.stdout)")
                let json = try await keel(["status", String(id), "--json"], in: project.repo)
                #expect(json.stdout.contains("\"evidence\"") && json.stdout.contains(line), "#\(id): \(json.stdout)")
                #expect(api[id]?.contains("\"evidence\"") == true && api[id]?.contains(line) == true, "#\(id): \(api[id] ?? "")")
                #expect(pages[id]?.contains("Last failure") == true && pages[id]?.contains(line) == true, "#\(id): \(pages[id] ?? "")")
                let alert = alerts.first { $0.contains("/items/\(id)") } ?? ""
                #expect(alert.contains(line), "#\(id): \(alerts)")
                #expect(alert.contains("http://127.0.0.1:\(port)/items/\(id)"), "the link names the real port \(port): \(alert)")
            }
            // Exit statuses read as words, never as a Swift enum.
            let exited = try await keel(["status", "3"], in: project.repo)
            #expect(exited.stdout.contains("exited with status 3") && !exited.stdout.contains("exited("), "\(exited.stdout)")
        }
    }
}
