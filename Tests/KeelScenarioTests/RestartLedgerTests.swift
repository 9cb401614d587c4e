import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// 000_*: "the chain was broken after a server restart orphaned the first post-restart event". The
/// same story through Keel itself: five `keel` processes append to one ledger in turn (two
/// submissions, a `keel run` killed with SIGKILL mid-work, a second `keel run` stopped with SIGTERM,
/// a last submission), and the first event each process wrote links to the last one before it.
@Suite struct RestartLedgerTests {
    @Test func theFirstEventAfterEachRealRestartLinksToTheLastEventBeforeIt() async throws {
        let project = try await UserProject.make(prefix: "keel-restart-ledger")
        defer { project.tmp.remove() }
        try Data(CrashRecoveryTests.config(origin: project.origin).utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        try project.writeAgent(sleepSeconds: 2)
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
        var boundaries: [Int64] = []

        func submit(_ n: Int) async throws {
            let issue = try project.writeIssue("Greeting \(n)\n", name: "issue-\(n).md")
            let run = try await keel(["submit", "--title", "Greeting \(n)", "--body-file", issue], in: project.repo)
            #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
        }
        try await submit(1)
        boundaries.append(try await store.ledgerCount())
        try await submit(2)

        // A `keel run` that dies without any chance to clean up, once it has appended something.
        boundaries.append(try await store.ledgerCount())
        let crashed = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run-1.log"))
        let appended = try await eventually(seconds: 120) { try await store.ledgerCount() > boundaries.last! + 2 }
        #expect(appended, "keel run appended nothing:\n\(crashed.log)")
        crashed.signal(SIGKILL)
        _ = await crashed.waitForExit()

        boundaries.append(try await store.ledgerCount())
        let second = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run-2.log"))
        let merged = try await eventually(seconds: 240) { try await store.items().allSatisfy { $0.state == .merged } }
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
        #expect(merged, "the items did not merge after the restart:\n\(second.log)")

        boundaries.append(try await store.ledgerCount())
        try await submit(3)

        let events = try await store.ledgerEvents(after: 0, limit: nil)
        #expect(events.map(\.seq) == Array(1...Int64(events.count)))
        for boundary in boundaries {
            let before = try #require(events.first { $0.seq == boundary }, "no event at \(boundary)")
            let first = try #require(events.first { $0.seq == boundary + 1 }, "the process after seq \(boundary) appended nothing")
            #expect(try previousHash(of: first.event) == before.hash, "event \(first.seq), the first after a restart, is orphaned")
        }
        #expect(events.allSatisfy { $0.kind != "chain_break_detected" }, "a restart was taken for a break")

        let verify = try await keel(["ledger", "verify"], in: project.repo)
        #expect(verify.outcome.termination == .exited(0), "\(verify.stdout)\(verify.stderr)")
        let status = try await keel(["ledger", "status"], in: project.repo)
        #expect(status.outcome.termination == .exited(0) && status.stdout.contains("valid"), "\(status.stdout)\(status.stderr)")
    }

    private func previousHash(of event: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any]
        return try #require(object?["previous_hash"] as? String)
    }
}
