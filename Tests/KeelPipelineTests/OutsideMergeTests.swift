import Foundation
import KeelCore
import KeelForge
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Synchronization
import Testing

/// A forge whose required check `test` stays pending: the item waits for CI for as long as the
/// test wants. Merges are counted, so a test can tell that Keel merged nothing.
final class PendingCheckForge: Forge {
    let inner: LocalForge
    // Mutex-guarded: the scheduler's workers call in concurrently.
    let merges = Mutex(0)

    init(inner: LocalForge) { self.inner = inner }

    var baseBranch: String { inner.baseBranch }
    var originURL: String { inner.originURL }
    func openPullRequest(branch: String, title: String) async throws -> PullRequest { try await inner.openPullRequest(branch: branch, title: title) }
    func runChecks(branch: String, headSHA: String) async throws -> CheckRun { try await inner.runChecks(branch: branch, headSHA: headSHA) }
    func observeChecks(branch: String, headSHA: String) async throws -> [ObservedCheck] { [ObservedCheck(name: "test", state: .pending)] }
    func requiredChecks() async throws -> [String] { ["test"] }
    func baseContains(headSHA: String) async throws -> String? { try await inner.baseContains(headSHA: headSHA) }
    func merge(branch: String, headSHA: String, title: String) async throws -> MergeResult {
        merges.withLock { $0 += 1 }
        return try await inner.merge(branch: branch, headSHA: headSHA, title: title)
    }
}

/// 002_*'s siloed integrations: a person merges an item's branch into the base by hand while Keel
/// still waits on its CI. Keel records the merge as the person's, once, keeps the item's runs and
/// cost, and merges nothing itself.
@Suite struct OutsideMergeTests {
    @Test func aBranchMergedByHandWhileKeelWaitsOnCIIsRecordedAsAPersonsMergeOnce() async throws {
        let tmp = try TemporaryDirectory(prefix: "keel-outside-merge")
        defer { tmp.remove() }
        let repos = RepoBuilder(root: tmp.path)
        let origin = try await repos.makeOrigin(files: ["README.md": "# shop\n"])
        let agent = tmp.path("agent.sh")
        try Data(
            """
            #!/bin/sh
            cat > /dev/null
            echo 'discount' > discount.txt
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.25,"usage":{"input_tokens":100,"output_tokens":10}}'

            """.utf8
        ).write(to: URL(fileURLWithPath: agent))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: agent)
        let config = try KeelConfig.parse(
            """
            forge: {local: {origin: \(origin)}}
            ci: {wait_seconds: 86400, poll_seconds: 60}
            agent: {kind: command, command: [\(agent)]}
            scheduler: {workers: 1, lease_seconds: 600, poll_milliseconds: 20}
            """, file: "keel.yml", baseDirectory: tmp.path)
        let clock = ManualWallClock()
        let store = try SQLiteStore(path: config.store.sqlite)
        let forge = PendingCheckForge(
            inner: LocalForge(originURL: origin, baseBranch: "main", ciCommands: [], ciTimeout: .seconds(60), workRoot: tmp.path("forge")))
        let environment = PipelineEnvironment(config: config, configDirectory: tmp.path, store: store, forge: forge, clock: clock, random: { 0 })
        let item = try await store.createItem(NewItem(repo: "shop", title: "Add a discount", body: "b"), actor: "test", now: clock.now())
        let scheduler = Scheduler(environment: environment)
        let running = Task { try await scheduler.run() }

        var waitsSeen = 0
        var mergedByHand: String?
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(40))
            guard let current = try await store.item(item.id) else { break }
            if current.state == .merged || current.state == .needsHuman { break }
            guard current.state == .awaitingCI, let wakeUp = current.notBefore, wakeUp > clock.now() else { continue }
            waitsSeen += 1
            // After Keel has waited twice, a colleague merges the branch by hand and pushes the base.
            if waitsSeen == 2, mergedByHand == nil, let branch = current.branch {
                let clone = tmp.path("colleague")
                try await repos.git.clone(origin, into: clone)
                _ = try await repos.git.run(
                    ["-c", "user.name=Ann", "-c", "user.email=ann@example.com", "merge", "--no-ff", "-m", "Merge \(branch) by hand", "origin/\(branch)"],
                    in: clone)
                _ = try await repos.git.run(["push", "--quiet", "origin", "HEAD:main"], in: clone)
                mergedByHand = try await repos.git.run(["rev-parse", "HEAD"], in: clone).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            clock.advance(by: wakeUp.timeIntervalSince(clock.now()) + 1)
        }
        running.cancel()
        _ = try? await running.value

        let final = try #require(try await store.item(item.id))
        #expect(final.state == .merged)
        #expect(mergedByHand != nil, "Keel never waited on CI")
        let transitions = try await store.transitions(of: item.id)
        let merged = transitions.filter { $0.to == .merged }
        #expect(merged.count == 1, "recorded once")
        #expect(merged.first?.from == .awaitingCI)
        #expect(merged.first?.actor == "person:outside-keel", "recorded as a person's merge: \(String(describing: merged.first))")
        #expect(merged.first?.reason.contains("outside Keel") == true)
        // Keel merged nothing: no merge call, and the base's tip is the person's merge commit.
        #expect(forge.merges.withLock { $0 } == 0)
        let tip = try await repos.git.run(["rev-parse", "main"], in: origin).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(tip == mergedByHand)
        // The item's one agent run and its cost are kept, and its timeline is unbroken.
        let figures = try await store.figures(of: item.id)
        #expect(figures.agentRuns == 1)
        #expect(figures.costMicros == 250_000)
        for (previous, next) in zip(transitions, transitions.dropFirst()) { #expect(next.from == previous.to) }
    }
}
