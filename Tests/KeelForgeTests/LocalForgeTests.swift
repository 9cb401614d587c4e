import Foundation
import KeelCore
import KeelForge
import KeelGit
import KeelTestSupport
import Testing

@Suite struct LocalForgeTests {
    let git = Git()

    /// A bare origin seeded on `main` with `files`, and a forge over it.
    struct Setup {
        let tmp: TemporaryDirectory
        let repos: RepoBuilder
        let origin: String

        func forge(ci: [CICommand] = [], timeout: Duration = .seconds(120), git: Git = Git()) -> LocalForge {
            LocalForge(originURL: origin, baseBranch: "main", ciCommands: ci, ciTimeout: timeout, workRoot: workRoot, git: git)
        }

        var workRoot: String { tmp.path("forge") }

        /// What is left under the forge's work directory.
        func leftovers() throws -> [String] {
            guard FileManager.default.fileExists(atPath: workRoot) else { return [] }
            return try FileManager.default.contentsOfDirectory(atPath: workRoot)
        }
    }

    func withOrigin(
        files: [String: String] = ["README.md": "seed\n"],
        _ body: (Setup) async throws -> Void
    ) async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin(files: files)
            try await body(Setup(tmp: tmp, repos: repos, origin: origin))
        }
    }

    func commitCount(_ origin: String) async throws -> Int {
        Int(try await git.run(["rev-list", "--count", "main"], in: origin).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    // MARK: - Pull requests

    @Test func pushedBranchOpensAsPullRequestAtItsHead() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "keel/7", to: setup.origin)
            let forge = setup.forge()
            let pr = try await forge.openPullRequest(branch: "keel/7", title: "Fix seven")
            #expect(pr == PullRequest(branch: "keel/7", headSHA: head, url: "\(setup.origin)#keel/7"))
            #expect(try await forge.openPullRequest(branch: "keel/7", title: "Fix seven") == pr)
        }
    }

    @Test func unpushedBranchCannotBeOpened() async throws {
        try await withOrigin { setup in
            let error = await #expect(throws: ForgeError.self) {
                try await setup.forge().openPullRequest(branch: "keel/never-pushed", title: "Ghost")
            }
            #expect(error?.code == .branchNotFound)
            #expect(error?.message.contains("Push the branch") == true)
        }
    }

    // MARK: - Checks

    @Test func passingChecksRunAgainstTheExactHead() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["feature.txt": "new\n"], branch: "feature", to: setup.origin)
            // The branch moves on after the head under test; the checks must still see `head`.
            try await setup.repos.pushCommit(files: ["later.txt": "later\n"], branch: "feature", to: setup.origin)
            let forge = setup.forge(ci: [
                CICommand(name: "head", run: #"test "$(git rev-parse HEAD)" = "$KEEL_HEAD_SHA" && test -f feature.txt && test ! -e later.txt"#),
                CICommand(name: "lint", run: "echo lint clean"),
            ])

            let run = try await forge.runChecks(branch: "feature", headSHA: head)

            #expect(run.passed, "\(run.output)")
            #expect(run.headSHA == head)
            #expect(run.checks.map(\.name) == ["head", "lint"])
            #expect(run.checks.allSatisfy { $0.passed && $0.exitCode == 0 && !$0.timedOut })
            #expect(run.checks[1].output == "lint clean\n")
            #expect(run.output.contains("==> lint: echo lint clean\nlint clean\n<== lint passed"))
            #expect(try setup.leftovers().isEmpty)
        }
    }

    @Test func failingCheckIsReportedWithItsCommandAndOutputAndTheRestStillRun() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "feature", to: setup.origin)
            let failing = "echo compiling; echo 'error: f.txt:1: unexpected token' >&2; exit 3"
            let forge = setup.forge(ci: [
                CICommand(name: "build", run: failing),
                CICommand(name: "test", run: "echo tests ran"),
            ])

            let run = try await forge.runChecks(branch: "feature", headSHA: head)

            #expect(!run.passed)
            #expect(run.failures.map(\.name) == ["build"])
            let build = run.checks[0]
            #expect(build.exitCode == 3)
            #expect(!build.timedOut)
            #expect(build.output == "compiling\nerror: f.txt:1: unexpected token\n")
            #expect(run.checks[1].passed)
            #expect(run.output.contains("==> build: \(failing)"))
            #expect(run.output.contains("error: f.txt:1: unexpected token"))
            #expect(run.output.contains("<== build failed with exit status 3"))
            #expect(try setup.leftovers().isEmpty)
        }
    }

    @Test func checkThatOutlivesTheTimeoutFails() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "feature", to: setup.origin)
            let forge = setup.forge(
                ci: [CICommand(name: "hang", run: "echo started; sleep 60"), CICommand(name: "after", run: "true")],
                timeout: .seconds(1)
            )

            let clock = ContinuousClock()
            let started = clock.now
            let run = try await forge.runChecks(branch: "feature", headSHA: head)

            #expect(clock.now - started < .seconds(30))
            #expect(!run.passed)
            #expect(run.checks[0].timedOut)
            #expect(!run.checks[0].passed)
            #expect(run.checks[1].passed)
            #expect(run.output.contains("<== hang timed out"))
            #expect(try setup.leftovers().isEmpty)
        }
    }

    @Test func checksOfAnUnknownHeadThrow() async throws {
        try await withOrigin { setup in
            let error = await #expect(throws: ForgeError.self) {
                try await setup.forge(ci: [CICommand(name: "t", run: "true")])
                    .runChecks(branch: "feature", headSHA: String(repeating: "ab", count: 20))
            }
            #expect(error?.code == .commitNotFound)
            let leftovers = try setup.leftovers()
            #expect(leftovers.isEmpty)
        }
    }

    // MARK: - Merges

    @Test func mergeAddsAMergeCommitWhoseSecondParentIsTheHead() async throws {
        try await withOrigin { setup in
            let base = try #require(try await git.remoteBranchHead(url: setup.origin, branch: "main"))
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "keel/1", to: setup.origin)

            let result = try await setup.forge().merge(branch: "keel/1", headSHA: head, title: "Add f")

            guard case .merged(let sha) = result else {
                Issue.record("expected a merge, got \(result)")
                return
            }
            #expect(try await git.remoteBranchHead(url: setup.origin, branch: "main") == sha)
            #expect(try await git.revParse("\(sha)^1", in: setup.origin) == base)
            #expect(try await git.revParse("\(sha)^2", in: setup.origin) == head)
            #expect(try await git.log("-1", format: "%s", in: setup.origin) == ["Merge keel/1: Add f"])
            #expect(try setup.leftovers().isEmpty)
        }
    }

    @Test func mergingTwiceAddsNoSecondCommit() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "keel/1", to: setup.origin)
            let forge = setup.forge()

            let first = try await forge.merge(branch: "keel/1", headSHA: head, title: "Add f")
            let count = try await commitCount(setup.origin)
            let second = try await forge.merge(branch: "keel/1", headSHA: head, title: "Add f")

            guard case .merged(let sha) = first else {
                Issue.record("expected a merge, got \(first)")
                return
            }
            #expect(second == .alreadyMerged(sha: sha))
            #expect(try await commitCount(setup.origin) == count)
        }
    }

    @Test func conflictIsReportedAndLeavesTheOriginUntouched() async throws {
        try await withOrigin(files: ["shared.txt": "base\n"]) { setup in
            let head = try await setup.repos.pushCommit(files: ["shared.txt": "feature\n"], branch: "keel/2", to: setup.origin)
            let moved = try await setup.repos.pushCommit(files: ["shared.txt": "someone else\n"], branch: "main", to: setup.origin)
            let count = try await commitCount(setup.origin)

            let result = try await setup.forge().merge(branch: "keel/2", headSHA: head, title: "Edit shared")

            guard case .conflict(let files, let message) = result else {
                Issue.record("expected a conflict, got \(result)")
                return
            }
            #expect(files == ["shared.txt"])
            #expect(message.contains("shared.txt"))
            #expect(try await git.remoteBranchHead(url: setup.origin, branch: "main") == moved)
            #expect(try await commitCount(setup.origin) == count)
            #expect(try setup.leftovers().isEmpty)
        }
    }

    @Test func mergeOntoABaseThatMovedSinceTheBranchWasCut() async throws {
        try await withOrigin { setup in
            let a = try await setup.repos.pushCommit(files: ["a.txt": "a\n"], branch: "keel/a", to: setup.origin)
            let b = try await setup.repos.pushCommit(files: ["b.txt": "b\n"], branch: "keel/b", to: setup.origin)
            let forge = setup.forge()

            guard case .merged(let first) = try await forge.merge(branch: "keel/a", headSHA: a, title: "A") else {
                Issue.record("the first merge did not merge")
                return
            }
            let result = try await forge.merge(branch: "keel/b", headSHA: b, title: "B")

            guard case .merged(let second) = result else {
                Issue.record("expected a merge, got \(result)")
                return
            }
            #expect(try await git.revParse("\(second)^1", in: setup.origin) == first)
            #expect(try await git.revParse("\(second)^2", in: setup.origin) == b)
            let clone = try await setup.repos.makeWorkClone(of: setup.origin, branch: "main")
            #expect(FileManager.default.fileExists(atPath: "\(clone)/a.txt"))
            #expect(FileManager.default.fileExists(atPath: "\(clone)/b.txt"))
        }
    }

    @Test func pushThatLosesARaceIsMergedAgainOnTheNewBase() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "keel/3", to: setup.origin)
            let racer = try RaceScript(setup: setup, pushesToMove: 1)
            let forge = setup.forge(git: try await racer.git())

            let result = try await forge.merge(branch: "keel/3", headSHA: head, title: "F")

            guard case .merged(let sha) = result else {
                Issue.record("expected a merge, got \(result)")
                return
            }
            #expect(try racer.racesRun() == 1)
            let raced = try await git.revParse("HEAD", in: racer.clone)
            #expect(try await git.remoteBranchHead(url: setup.origin, branch: "main") == sha)
            #expect(try await git.revParse("\(sha)^1", in: setup.origin) == raced)
            #expect(try await git.revParse("\(sha)^2", in: setup.origin) == head)
        }
    }

    @Test func baseThatKeepsMovingStopsTheMergeWithoutForcing() async throws {
        try await withOrigin { setup in
            let head = try await setup.repos.pushCommit(files: ["f.txt": "f\n"], branch: "keel/4", to: setup.origin)
            let racer = try RaceScript(setup: setup, pushesToMove: 10)
            let forge = setup.forge(git: try await racer.git())

            let error = await #expect(throws: ForgeError.self) {
                try await forge.merge(branch: "keel/4", headSHA: head, title: "F")
            }

            #expect(error?.code == .baseKeptMoving)
            #expect(try racer.racesRun() == forge.race.redoLimit + 1)
            let raced = try await git.revParse("HEAD", in: racer.clone)
            #expect(try await git.remoteBranchHead(url: setup.origin, branch: "main") == raced)
            #expect(try await !git.isAncestor(head, of: "main", in: setup.origin))
            #expect(try setup.leftovers().isEmpty)
        }
    }
}

/// A `git` wrapper that, just before each of the forge's pushes, pushes another commit to the
/// origin's `main` from its own clone: a concurrent merge landing at the worst moment.
struct RaceScript {
    let script: String
    let clone: String
    let state: String
    let pushesToMove: Int
    let setup: LocalForgeTests.Setup

    init(setup: LocalForgeTests.Setup, pushesToMove: Int) throws {
        self.setup = setup
        self.pushesToMove = pushesToMove
        self.script = setup.tmp.path("race-git.sh")
        self.clone = setup.tmp.path("racer")
        self.state = setup.tmp.path("race-count")
        let text = """
            #!/bin/sh
            case " $* " in
            *" push --porcelain "*)
                n=$(cat "$RACE_STATE" 2>/dev/null || echo 0)
                if [ "$n" -lt "$RACE_LIMIT" ]; then
                    echo $((n + 1)) > "$RACE_STATE"
                    echo "race $n" > "$RACE_CLONE/race-$n.txt"
                    {
                        git -C "$RACE_CLONE" add -A &&
                        git -c user.name=Racer -c user.email=racer@localhost -C "$RACE_CLONE" commit -q -m "race $n" &&
                        git -C "$RACE_CLONE" push -q origin HEAD:refs/heads/main
                    } >&2 || exit 99
                fi ;;
            esac
            exec git "$@"

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: script))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    }

    /// How many times the origin was moved under the forge.
    func racesRun() throws -> Int {
        Int(try String(contentsOfFile: state, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// The racer's clone is made here, so that it starts at the origin's current `main`.
    func git() async throws -> Git {
        try await Git().clone(setup.origin, into: clone, branch: "main")
        return Git(
            executable: script,
            environment: ["RACE_STATE": state, "RACE_CLONE": clone, "RACE_LIMIT": String(pushesToMove)]
        )
    }
}
