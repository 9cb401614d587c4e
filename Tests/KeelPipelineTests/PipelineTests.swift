import Foundation
import KeelAgents
import KeelCore
import KeelForge
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Synchronization
import Testing

/// The engine in-process, on real git repositories, a real SQLite file and real agent processes.
@Suite struct PipelineTests {
    struct Rig {
        let tmp: TemporaryDirectory
        let repos: RepoBuilder
        let origin: String
        let environment: PipelineEnvironment
        let store: SQLiteStore
        let events: EventLog

        var scheduler: Scheduler { Scheduler(environment: environment) }
    }

    final class EventLog: Sendable {
        private let lines = Mutex<[String]>([])
        var sink: PipelineEventSink { PipelineEventSink { event in self.lines.withLock { $0.append(event.line) } } }
        var all: [String] { lines.withLock { $0 } }
    }

    /// An origin whose CI requires `shared.txt`, if present, to start with "item", and an agent script.
    func rig(agent: String, workers: Int = 1, kind: String = "command", extra: String = "") async throws -> Rig {
        let tmp = try TemporaryDirectory(prefix: "keel-pipeline")
        let repos = RepoBuilder(root: tmp.path)
        let origin = try await repos.makeOrigin(files: [
            "README.md": "# x\n",
            "ci.sh": "#!/bin/sh\n[ ! -f shared.txt ] || grep -q '^item' shared.txt || { echo 'FAIL shared.txt'; exit 1; }\necho ok\n",
        ])
        let agentPath = try Self.script(agent, named: "agent.sh", in: tmp)
        let yaml = """
            project: rig
            forge: {local: {origin: \(origin)}}
            ci: {commands: [sh ci.sh]}
            agent:
              kind: \(kind)
              command: [\(agentPath)]
              timeouts: {inactivity_seconds: 30, wall_clock_seconds: 120}
            scheduler:
              workers: \(workers)
              lease_seconds: 30
              poll_milliseconds: 50
              breaker_threshold: 3
              backoff: {initial_seconds: 1, max_seconds: 1, jitter: 0}
            \(extra)
            """
        let config = try KeelConfig.parse(yaml, file: "keel.yml", baseDirectory: tmp.path)
        let events = EventLog()
        let store = try SQLiteStore(path: config.store.sqlite)
        let forge = LocalForge(
            originURL: origin, baseBranch: "main", ciCommands: config.ci.commands.map { CICommand(name: $0.name, run: $0.run) },
            ciTimeout: .seconds(60), workRoot: tmp.path("forge"))
        let environment = PipelineEnvironment(
            config: config, configDirectory: tmp.path, store: store, forge: forge, random: { 0.5 }, events: events.sink)
        return Rig(tmp: tmp, repos: repos, origin: origin, environment: environment, store: store, events: events)
    }

    /// Writes an executable `#!/bin/sh` script with `body` into `dir`; its path.
    static func script(_ body: String, named name: String, in dir: TemporaryDirectory) throws -> String {
        let path = dir.path(name)
        try Data(("#!/bin/sh\n" + body).utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    func submit(_ rig: Rig, _ title: String) async throws -> WorkItem {
        try await rig.store.createItem(NewItem(repo: "rig", title: title, body: "Do \(title)."), actor: "test", now: Date())
    }

    @Test func garbledAgentOutputIsRetriedThenHandedToAPersonWithTheOutput() async throws {
        let rig = try await rig(agent: "echo '%%% {\"type\":\"resu'; echo 'Traceback: boom' >&2; exit 3\n")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "garbled")
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman)
        #expect(final.attempt == 3)
        let history = try await rig.store.history(of: item.id)
        #expect(history.map(\.signature) == Array(repeating: "agent_exit:3:default-transient", count: 3))
        #expect(history.last?.detail.contains("Traceback: boom") == true, "the person sees the agent's last output")
        #expect(try await rig.store.agentRuns(of: item.id).allSatisfy { $0.outcome == "error" && $0.exitCode == 3 })
    }

    @Test func anApiErrorReportedAsSuccessGoesToAPersonAtOnce() async throws {
        // Claude Code's trap: exit 0, subtype success, is_error true, HTTP 403.
        let result = #"{"type":"result","subtype":"success","is_error":true,"terminal_reason":"api_error","api_error_status":403,"num_turns":1,"result":"Your organization has disabled Claude subscription access","total_cost_usd":0.5,"usage":{"input_tokens":0,"output_tokens":0}}"#
        let rig = try await rig(agent: "echo changed > file.txt\necho '\(result)'\nexit 0\n")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "forbidden")
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman)
        #expect(final.attempt == 1, "a permanent error is not retried")
        #expect(try await rig.store.transitions(of: item.id).last?.reason.contains("disabled Claude subscription") == true)
        #expect(try await rig.store.figures(of: item.id).costMicros == 500_000, "the spend is still attributed")
        #expect(try await rig.repos.git.remoteBranchHead(url: rig.origin, branch: "keel/item-\(item.id)") == nil, "nothing was pushed")
    }

    @Test func aMergeConflictSendsTheItemBackToDevelopOnTheNewBase() async throws {
        // On its first attempt the agent also lands a conflicting commit on main, as a colleague would.
        let agent = """
            printf 'item %s\\n' "$KEEL_ITEM_ID" > shared.txt
            if [ "$KEEL_ATTEMPT" = 1 ]; then
              other="$(dirname "$0")/colleague-$KEEL_ITEM_ID-$$"
              git clone -q "$ORIGIN" "$other/c" && cd "$other/c" && printf 'item from a colleague\\n' > shared.txt \
                && git add shared.txt && git -c user.name=c -c user.email=c@x commit -qm colleague && git push -q origin HEAD:main
            fi
            exit 0

            """
        let rig = try await rig(agent: agent)
        defer { rig.tmp.remove() }
        var environment = rig.environment
        environment.config.agent.env["ORIGIN"] = rig.origin
        let item = try await submit(rig, "conflicting")
        try await Scheduler(environment: environment).runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged, "\(rig.events.all.joined(separator: "\n"))")
        #expect(final.attempt == 2)
        let history = try await rig.store.history(of: item.id).filter { $0.kind == "failure" }
        #expect(history.map(\.signature) == ["merge_conflict"])
        #expect(history.first?.summary.contains("shared.txt") == true)
        let content = try await rig.repos.git.run(["show", "main:shared.txt"], in: rig.origin)
        #expect(content == "item \(item.id)\n")
    }

    @Test func cancellingAnItemStopsItsRunningAgent() async throws {
        let rig = try await rig(agent: "echo started\nwhile true; do sleep 1; echo tick; done\n")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "endless")
        let scheduler = rig.scheduler
        let running = Task { try await scheduler.run() }
        var pid = 0
        for _ in 0..<300 where pid == 0 {
            pid = try await rig.store.unfinishedAgentRuns(of: item.id).compactMap(\.pid).first ?? 0
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(pid != 0, "the agent never started")
        _ = try await rig.store.transition(
            itemID: item.id, on: .cancelRequested, reason: "not wanted", actor: "cli:test", now: Date(), changes: ItemChanges())
        var closed = false
        for _ in 0..<300 where !closed {
            closed = try await rig.store.unfinishedAgentRuns(of: item.id).isEmpty
            try await Task.sleep(for: .milliseconds(100))
        }
        running.cancel()
        _ = try? await running.value
        #expect(closed, "the agent run was not stopped after the cancel")
        #expect(kill(pid_t(pid), 0) != 0, "agent \(pid) still runs")
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .cancelled)
        #expect(try await rig.store.transitions(of: item.id).last?.actor == "cli:test", "the worker wrote nothing after the cancel")
    }
}
