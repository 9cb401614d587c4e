import Foundation
import KeelGit
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The path of a real user, with real processes: `keel init`, `keel submit`, `keel run`.
@Suite struct UserPathTests {
    @Test func initSubmitRunTakesAnItemToAMerge() async throws {
        let project = try await UserProject.make(prefix: "keel-user")
        defer { project.tmp.remove() }
        let initRun = try await keel(["init", "--agent", "command"], in: project.repo)
        #expect(initRun.outcome.termination == .exited(0), "\(initRun.stderr)")
        let configText = try String(contentsOfFile: project.repo + "/keel.yml", encoding: .utf8)
        #expect(configText.contains(project.origin) && configText.contains("sh tests/run.sh") && configText.contains("./keel-agent.sh"))
        // It says which script it expects and what the script must do.
        #expect(
            initRun.stdout.contains("The command agent runs ./keel-agent.sh, next to keel.yml (not there yet: write it and chmod +x it)")
                && initRun.stdout.contains("reads the task prompt on stdin") && initRun.stdout.contains("exits 0 when the work is done"),
            "\(initRun.stdout)")
        let unready = try await keel(["check"], in: project.repo)
        #expect(unready.outcome.termination == .exited(1) && unready.stderr.contains("agent.command: the agent's program ./keel-agent.sh was not found"), "\(unready.stderr)")

        // init refuses to overwrite.
        let again = try await keel(["init", "--agent", "command"], in: project.repo)
        #expect(again.outcome.termination == .exited(1) && again.stderr.contains("already exists"))

        try project.writeAgent()
        let issue = try project.writeIssue("Add a greeting file.\n")
        let submit = try await keel(["submit", "--title", "Say hello", "--body-file", issue], in: project.repo)
        #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
        #expect(submit.stdout.contains("#1"))

        let server = try KeelServerProcess(config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"))
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
        let merged = try await eventually(seconds: 180) { try await store.item(1)?.state == .merged }
        server.signal(SIGTERM)
        let status = await server.waitForExit()
        #expect(merged, "item not merged; keel run said:\n\(server.log)")
        #expect(status == 0, "keel run did not stop cleanly on SIGTERM:\n\(server.log)")

        #expect(try await project.baseLog().first == "Merge keel/item-1: #1 Say hello")
        let greeting = try await project.repos.git.run(["show", "main:greeting-1.txt"], in: project.origin)
        #expect(greeting == "hello from item 1\n")
        let json = try await keel(["status", "1", "--json"], in: project.repo)
        #expect(json.stdout.contains("\"state\" : \"merged\"") && json.stdout.contains("\"cost_micros\" : 12500"))
        try await expectContiguousTimelines(store)
    }

    @Test func anInvalidConfigNamesTheLineAndKeyAndExitsTwo() async throws {
        try await withTemporaryDirectory(prefix: "keel-badcfg") { tmp in
            let config = "project: x\nforge:\n  local:\n    origin: /tmp/nowhere.git\nagent:\n  kind: command\n  command: [./a.sh]\nscheduler:\n  workers: two\n"
            try Data(config.utf8).write(to: URL(fileURLWithPath: tmp.path("keel.yml")))
            let run = try await keel(["status"], in: tmp.path)
            #expect(run.outcome.termination == .exited(2))
            #expect(run.stderr.contains("keel.yml:9") && run.stderr.contains("scheduler.workers"), "\(run.stderr)")
        }
    }

    @Test func anUnknownItemIsAClearErrorWithExitOne() async throws {
        let project = try await UserProject.make(prefix: "keel-unknown")
        defer { project.tmp.remove() }
        _ = try await keel(["init", "--agent", "command"], in: project.repo)
        let issue = try project.writeIssue("Add a greeting file.\n")
        let submit = try await keel(["submit", "--title", "Say hello", "--body-file", issue], in: project.repo)
        #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
        for args in [["status", "42"], ["retry", "42"], ["cancel", "42"]] {
            let run = try await keel(args, in: project.repo)
            #expect(run.outcome.termination == .exited(1), "\(args)")
            #expect(run.stderr.contains("no item #42"), "\(args): \(run.stderr)")
        }
    }
}
