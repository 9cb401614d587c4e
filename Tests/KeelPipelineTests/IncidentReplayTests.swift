import Foundation
import KeelCore
import KeelForge
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Synchronization
import Testing

/// A forge like opsguide-back's GitHub (001_*, incident 3): lint and format register at once, the
/// `test` job builds an image first and registers three minutes after the pull request opens.
/// Branch protection requires `test`. The first head fails it, later heads pass.
final class LateCheckForge: Forge {
    let inner: LocalForge
    let clock: ManualWallClock
    // Mutex-guarded: the scheduler's workers call in concurrently.
    let state = Mutex<(opened: [String: Date], heads: [String])>(([:], []))

    init(inner: LocalForge, clock: ManualWallClock) {
        self.inner = inner
        self.clock = clock
    }

    var baseBranch: String { inner.baseBranch }
    var originURL: String { inner.originURL }

    func openPullRequest(branch: String, title: String) async throws -> PullRequest {
        let pr = try await inner.openPullRequest(branch: branch, title: title)
        let now = clock.now()
        state.withLock {
            if $0.opened[pr.headSHA] == nil { $0.opened[pr.headSHA] = now }
            if !$0.heads.contains(pr.headSHA) { $0.heads.append(pr.headSHA) }
        }
        return pr
    }

    func runChecks(branch: String, headSHA: String) async throws -> CheckRun { try await inner.runChecks(branch: branch, headSHA: headSHA) }
    func merge(branch: String, headSHA: String, title: String) async throws -> MergeResult {
        try await inner.merge(branch: branch, headSHA: headSHA, title: title)
    }

    func observeChecks(branch: String, headSHA: String) async throws -> [ObservedCheck] {
        let (opened, isFirstHead) = state.withLock { ($0.opened[headSHA] ?? clock.now(), $0.heads.first == headSHA) }
        let age = clock.now().timeIntervalSince(opened)
        var checks = [ObservedCheck(name: "lint", state: .success), ObservedCheck(name: "format-check", state: .success)]
        if age >= 180 { checks.append(ObservedCheck(name: "test", state: age >= 480 ? (isFirstHead ? .failure : .success) : .pending, output: isFirstHead ? "FAIL test_search: expected 3 results, got 0" : "ok")) }
        return checks
    }

    func baseContains(headSHA: String) async throws -> String? { try await inner.baseContains(headSHA: headSHA) }
    func requiredChecks() async throws -> [String] { ["test"] }
}

@Suite struct IncidentReplayTests {
    struct Replay {
        var final: WorkItem
        var history: [HistoryEntry]
        var mergedBeforeTestReported: Bool
        var events: [String]
    }

    /// Runs one item through the pipeline against the late-check forge, moving the clock 30 s at a time.
    func replayIncident3(gateIncludesDeclared: Bool) async throws -> Replay {
        let tmp = try TemporaryDirectory(prefix: "keel-incident3")
        defer { tmp.remove() }
        let repos = RepoBuilder(root: tmp.path)
        let origin = try await repos.makeOrigin(files: ["README.md": "# search\n"])
        let agent = tmp.path("agent.sh")
        try Data("#!/bin/sh\ncat > /dev/null\necho \"attempt $KEEL_ATTEMPT\" > search.txt\n".utf8).write(to: URL(fileURLWithPath: agent))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: agent)
        let config = try KeelConfig.parse(
            """
            forge: {local: {origin: \(origin)}}
            ci: {wait_seconds: 1800, poll_seconds: 30}
            agent: {kind: command, command: [\(agent)]}
            scheduler: {workers: 1, lease_seconds: 600, poll_milliseconds: 20, breaker_threshold: 3}
            """, file: "keel.yml", baseDirectory: tmp.path)
        let clock = ManualWallClock()
        let store = try SQLiteStore(path: config.store.sqlite)
        let forge = LateCheckForge(
            inner: LocalForge(originURL: origin, baseBranch: "main", ciCommands: [], ciTimeout: .seconds(60), workRoot: tmp.path("forge")),
            clock: clock)
        let lines = Mutex<[String]>([])
        var environment = PipelineEnvironment(
            config: config, configDirectory: tmp.path, store: store, forge: forge, clock: clock, random: { 0 },
            events: PipelineEventSink { event in lines.withLock { $0.append(event.line) } })
        environment.gateIncludesDeclared = gateIncludesDeclared
        let item = try await store.createItem(NewItem(repo: "search", title: "Fix HYBRID_SEARCH", body: "b"), actor: "test", now: clock.now())
        let scheduler = Scheduler(environment: environment)
        let running = Task { try await scheduler.run() }
        var mergedBeforeTest = false
        // Time moves only while the item waits (a gate poll, a backoff), and only to just past the
        // wait: however slow the machine, no wait is cut short and no stage sees time jump.
        for _ in 0..<6000 {
            try await Task.sleep(for: .milliseconds(20))
            guard let current = try await store.item(item.id) else { break }
            if current.state == .merged || current.state == .needsHuman {
                let firstHead = try await store.checkRuns(of: item.id).first?.checks ?? []
                mergedBeforeTest = current.state == .merged && !firstHead.contains { $0.name == "test" && $0.state != .pending }
                break
            }
            if let wakeUp = current.notBefore, wakeUp > clock.now() {
                clock.advance(by: wakeUp.timeIntervalSince(clock.now()) + 1)
            }
        }
        running.cancel()
        _ = try? await running.value
        return Replay(
            final: try #require(try await store.item(item.id)), history: try await store.history(of: item.id).filter { $0.kind != "attempt" },
            mergedBeforeTestReported: mergedBeforeTest, events: lines.withLock { $0 })
    }

    @Test func aLateRequiredCheckIsAwaitedAndItsFailureGoesBackToDevelop() async throws {
        let replay = try await replayIncident3(gateIncludesDeclared: true)
        #expect(replay.final.state == .merged, "\(replay.events.joined(separator: "\n"))")
        #expect(!replay.mergedBeforeTestReported)
        #expect(replay.history.map(\.signature) == ["checks_failed:test"], "the late failure sent it back to develop")
        #expect(replay.history.first?.detail.contains("FAIL test_search") == true, "with the check's output")
        #expect(replay.final.attempt == 2)
        #expect(replay.events.contains { $0.contains("not registered yet: test") })
    }

    @Test func withoutTheDeclaredChecksTheIncidentRecurs() async throws {
        // The rule switched off: the gate trusts the snapshot taken when the PR opened.
        let replay = try await replayIncident3(gateIncludesDeclared: false)
        #expect(replay.final.state == .merged)
        #expect(replay.mergedBeforeTestReported, "without the declared checks the item merges before `test` reports")
        #expect(replay.history.isEmpty)
    }
}
