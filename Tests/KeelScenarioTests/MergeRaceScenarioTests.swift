import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Workers finishing together race to push the base (issue 9, section 7): a lost race is the
/// marshal's to handle and never costs an agent run.
@Suite struct MergeRaceScenarioTests {
    @Test func workersFinishingTogetherMergeEveryItemWithOneAgentRunEach() async throws {
        let project = try await UserProject.make(prefix: "keel-race")
        defer { project.tmp.remove() }
        try project.writeConfig(scheduler: "workers: 4\npoll_milliseconds: 50")
        // Every agent works the same second and writes its own file: the four workers reach the
        // merge together, and no two changes conflict.
        try project.writeAgent(sleepSeconds: 1)
        let count = 8
        for n in 1...count {
            let issue = try project.writeIssue("Greeting \(n)\n", name: "issue-\(n).md")
            let submit = try await keel(["submit", "--title", "Greeting \(n)", "--body-file", issue], in: project.repo)
            #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
        }
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
        let server = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run.log"))
        let done = try await eventually(seconds: 240) {
            try await store.items().allSatisfy { !$0.state.isActive && $0.state != .queued }
        }
        server.signal(SIGTERM)
        _ = await server.waitForExit()
        #expect(done, "not every item settled:\n\(server.log)")

        let subjects = try await project.baseLog()
        for item in try await store.items() {
            #expect(item.state == .merged, "#\(item.id) is \(item.state):\n\(server.log)")
            #expect(item.attempt == 1, "#\(item.id) began \(item.attempt) attempts")
            let develops = try await store.agentRuns(of: item.id).filter { $0.stage == "develop" }
            #expect(develops.count == 1, "#\(item.id) paid for \(develops.count) agent runs")
            #expect(subjects.filter { $0.hasPrefix("Merge keel/item-\(item.id):") }.count == 1, "\(subjects)")
            let reasons = try await store.transitions(of: item.id).map(\.reason)
            #expect(!reasons.contains { $0.contains("Keel error") }, "\(reasons)")
        }
        #expect(try await store.items().count == count)
        try await expectContiguousTimelines(store)
    }
}
