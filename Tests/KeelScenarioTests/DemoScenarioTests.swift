import Foundation
import KeelGit
import KeelCore
import KeelAgents
import KeelStore
import KeelTestSupport
import Testing

@Suite struct DemoScenarioTests {
    @Test func demoMergesThreeItemsAndHandsTheHangToAPerson() async throws {
        try await withTemporaryDirectory(prefix: "keel-demo") { tmp in
            let dir = tmp.path("demo")
            let run = try await keel(["demo", "--dir", dir], in: tmp.path)
            #expect(run.outcome.termination == .exited(0), "demo failed:\n\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("3 merged, 1 waiting for a person"))

            // The origin's base holds exactly the merged work.
            let git = RepoBuilder(root: tmp.path).git
            let subjects = try await git.run(["log", "--format=%s", "--first-parent", "main"], in: dir + "/origin.git")
                .split(separator: "\n").map(String.init)
            #expect(subjects.filter { $0.hasPrefix("Merge keel/item-") }.count == 3)
            #expect(!subjects.contains { $0.contains("item-4") })
            let files = try await git.run(["ls-tree", "-r", "--name-only", "main"], in: dir + "/origin.git")
            #expect(files.contains("lib/km2mi.sh") && files.contains("lib/mi2km.sh") && files.contains("lib/version.sh"))
            let km2mi = try await git.run(["show", "main:lib/km2mi.sh"], in: dir + "/origin.git")
            #expect(km2mi.contains("v / k"), "the merged conversion is the corrected one")

            // `keel status --json` agrees with the summary.
            let status = try await keel(["status", "--json", "--config", dir + "/keel.yml"], in: tmp.path)
            #expect(status.outcome.termination == .exited(0))
            struct Items: Decodable { struct Item: Decodable { var id: Int64; var state: String; var attempts: Int; var cost_micros: Int64 }; var items: [Item] }
            let items = try JSONDecoder().decode(Items.self, from: Data(status.stdout.utf8)).items
            #expect(items.map(\.state) == ["merged", "merged", "merged", "needs_human"])
            #expect(items[1].attempts == 2)
            #expect(items[0].cost_micros > 0, "cost comes from the sample agent's stream-json")

            // The second attempt of the CI-failing item was given the CI output and said so.
            let store = try SQLiteStore(path: dir + "/.keel/keel.sqlite")
            let runs = try await store.agentRuns(of: items[1].id)
            #expect(runs.count == 2)
            let transcript = try String(contentsOfFile: try #require(runs.last?.transcriptPath), encoding: .utf8)
            #expect(transcript.contains("FAIL units km2mi 10: expected 6.2, got 16.1"))
            let history = try await store.history(of: items[1].id).filter { $0.kind == "failure" }
            #expect(history.first?.signature == "checks_failed:tests")

            // The hang: killed by the inactivity timeout each time, stopped by the breaker.
            let hangRuns = try await store.agentRuns(of: items[3].id)
            #expect(hangRuns.count == 3 && hangRuns.allSatisfy { $0.outcome == "timeout_inactivity" })
            #expect(try await store.transitions(of: items[3].id).last?.reason.contains("circuit breaker open") == true)
            try await expectContiguousTimelines(store)

            // `keel cost` attributes the same spend, by issue and by agent.
            let cost = try await keel(["cost", "--json", "--config", dir + "/keel.yml"], in: tmp.path)
            #expect(cost.outcome.termination == .exited(0), "\(cost.stderr)")
            struct Report: Decodable { struct Line: Decodable { var key: String; var cost_micros: Int64; var runs: Int }; var lines: [Line]; var total_cost_micros: Int64 }
            let report = try JSONDecoder().decode(Report.self, from: Data(cost.stdout.utf8))
            #expect(report.total_cost_micros == items.reduce(0) { $0 + $1.cost_micros })
            #expect(report.lines.first { $0.key == "\(items[1].id)" }?.runs == 2)
            let byAgent = try await keel(["cost", "--by", "agent", "--config", dir + "/keel.yml"], in: tmp.path)
            #expect(byAgent.stdout.hasPrefix("AGENT") && byAgent.stdout.contains("sample"), "\(byAgent.stdout)")
            let bad = try await keel(["cost", "--by", "model", "--config", dir + "/keel.yml"], in: tmp.path)
            #expect(bad.outcome.termination != .exited(0) && bad.stderr.contains("issue"), "\(bad.stderr)")
        }
    }

    @Test func demoRefusesANonEmptyDirectoryWithoutForce() async throws {
        try await withTemporaryDirectory(prefix: "keel-demo") { tmp in
            try Data("mine\n".utf8).write(to: URL(fileURLWithPath: tmp.path("precious.txt")))
            let run = try await keel(["demo", "--dir", tmp.path], in: tmp.path)
            #expect(run.outcome.termination == .exited(1))
            #expect(run.stderr.contains("not empty") && run.stderr.contains("--force"))
            #expect(FileManager.default.fileExists(atPath: tmp.path("precious.txt")))
        }
    }
}
