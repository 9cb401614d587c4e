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

/// `keel run` killed with SIGKILL in the middle of a stage, then started again.
@Suite struct CrashRecoveryTests {
    static func config(origin: String) -> String {
        UserProject.config(
            origin: origin,
            scheduler: """
                workers: 2
                lease_seconds: 5
                poll_milliseconds: 100
                backoff: {initial_seconds: 1, max_seconds: 2}
                """)
    }

    @Test func sigkillMidStageLosesNothingAndMergesNothingTwice() async throws {
        let project = try await UserProject.make(prefix: "keel-crash")
        defer { project.tmp.remove() }
        try Data(Self.config(origin: project.origin).utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        // The agent runs the first `keel run` starts outlive it: they ignore SIGPIPE and SIGHUP and
        // sleep ten minutes, so only Keel can end them before the test does. Once the hang file is
        // gone (after the crash) runs finish at once.
        let hang = project.tmp.path("hang")
        _ = FileManager.default.createFile(atPath: hang, contents: nil)
        let agent = """
            #!/bin/sh
            cat > /dev/null
            printf 'hello from item %s\\n' "$KEEL_ITEM_ID" > "greeting-$KEEL_ITEM_ID.txt"
            if [ -e "\(hang)" ]; then
                trap '' PIPE HUP
                echo "working on item $KEEL_ITEM_ID for a long time"
                sleep 600
            fi
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.0125,"usage":{"input_tokens":100,"output_tokens":20}}'

            """
        try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
        for n in 1...3 {
            let issue = try project.writeIssue("Greeting \(n)\n", name: "issue-\(n).md")
            let submit = try await keel(["submit", "--title", "Greeting \(n)", "--body-file", issue], in: project.repo)
            #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
        }
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")

        let first = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run-1.log"))
        var orphans: [Int] = []
        let midStage = try await eventually(seconds: 120) {
            var running: [Int] = []
            for item in try await store.items() {
                running += try await store.unfinishedAgentRuns(of: item.id).compactMap(\.pid)
            }
            orphans = running
            return !running.isEmpty
        }
        #expect(midStage, "no agent started:\n\(first.log)")
        // Let the agent get to its long sleep, then kill `keel run` with no chance to clean up.
        let sleeping = await eventually(seconds: 30) { orphans.allSatisfy { sessionMembers(of: $0).count >= 2 } }
        #expect(sleeping, "the agents did not reach their sleep")
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        try FileManager.default.removeItem(atPath: hang)
        // A real orphan: each agent, in a session of its own, survives the process that started it.
        for pid in orphans {
            #expect(!processIsGone(pid), "agent \(pid) died with keel run: nothing was left for the restart to clean up")
            #expect(!sessionMembers(of: pid).isEmpty, "agent \(pid) is not a session leader")
        }

        let second = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run-2.log"))
        let done = try await eventually(seconds: 240) {
            try await store.items().allSatisfy { $0.state == .merged }
        }
        second.signal(SIGTERM)
        let exit = await second.waitForExit()
        #expect(done, "not every item merged after the restart:\n\(second.log)")
        #expect(exit == 0)

        // Nothing merged twice: one merge commit per item on the base, and one merged transition each.
        let subjects = try await project.baseLog()
        for n in 1...3 {
            #expect(subjects.filter { $0.hasPrefix("Merge keel/item-\(n):") }.count == 1, "\(subjects)")
            let timeline = try await store.transitions(of: Int64(n))
            #expect(timeline.filter { $0.to == .merged }.count == 1)
        }
        // No transition lost: every timeline is an unbroken chain ending in the item's state.
        try await expectContiguousTimelines(store)
        // The agents the killed process left behind were killed by the restarted Keel (they would
        // have slept for ten minutes), with everything in their sessions, and their runs closed.
        for pid in orphans {
            #expect(processIsGone(pid), "orphaned agent \(pid) still runs")
            #expect(sessionMembers(of: pid).isEmpty, "the orphaned agent's session \(pid) still has processes")
        }
        var abandoned = 0
        for n in 1...3 { abandoned += try await store.agentRuns(of: Int64(n)).filter { $0.outcome == "abandoned" }.count }
        #expect(abandoned >= 1)
        for n in 1...3 {
            #expect(try await store.unfinishedAgentRuns(of: Int64(n)).isEmpty)
        }
        // The ledger took the crash and the restart without a break.
        let verify = try await keel(["ledger", "verify"], in: project.repo)
        #expect(verify.outcome.termination == .exited(0), "\(verify.stdout)\(verify.stderr)")
    }

    @Test func sigtermStopsRunningAgentsAndLeavesNoItemInARunningState() async throws {
        let project = try await UserProject.make(prefix: "keel-term")
        defer { project.tmp.remove() }
        try Data(Self.config(origin: project.origin).utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        try project.writeAgent(sleepSeconds: 120)
        let issue = try project.writeIssue("Slow greeting\n")
        _ = try await keel(["submit", "--title", "Slow", "--body-file", issue], in: project.repo)
        let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
        let server = try KeelServerProcess(config: "keel.yml", in: project.repo, log: project.tmp.path("run.log"))
        var agentPID = 0
        let running = try await eventually(seconds: 120) {
            agentPID = try await store.unfinishedAgentRuns(of: 1).compactMap(\.pid).first ?? 0
            return agentPID != 0
        }
        #expect(running, "the agent never started:\n\(server.log)")
        server.signal(SIGTERM)
        let exit = await server.waitForExit(seconds: 60)
        #expect(exit == 0, "keel run did not stop cleanly:\n\(server.log)")
        let item = try #require(try await store.item(1))
        #expect(item.state == .queued, "item left in \(item.state)")
        #expect(try await store.transitions(of: 1).last?.reason.contains("shutting down") == true)
        #expect(processIsGone(agentPID))
        #expect(try await store.agentRuns(of: 1).last?.outcome == "interrupted")
        // No lease is left behind: another worker may claim it at once.
        #expect(try await store.claimNext(owner: "test", now: Date(), leaseSeconds: 5)?.0.id == 1)
    }
}

/// The live processes whose session id is `sid` (read from /proc), zombies excluded.
func sessionMembers(of sid: Int) -> [pid_t] {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return entries.compactMap { entry -> pid_t? in
        guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state ppid pgrp session ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 3, fields[0] != "Z", Int(fields[3]) == sid else { return nil }
        return pid
    }
}
