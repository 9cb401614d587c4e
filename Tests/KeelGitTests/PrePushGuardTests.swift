import Foundation
import KeelAgents
import KeelGit
import KeelTestSupport
import Testing

/// The pre-push guard, exercised the way an agent meets it: a real `git push` from a clone with
/// the hook installed into a bare origin.
@Suite struct PrePushGuardTests {
    let git = Git()

    static let conflict = """
        <<<<<<< HEAD
        ours
        =======
        theirs
        >>>>>>> develop

        """

    // MARK: - Layer 1: conflict markers

    @Test func committedMarkersAreRefusedNamingFileAndLine() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let clone = try await guardedClone(of: origin, repos: repos)
            let before = try await git.remoteBranchHead(url: origin, branch: "main")

            try await repos.commit(
                ["src/a.swift": "let a = 1\n" + Self.conflict, "docs/x.md": "# X\n\n<<<<<<< ours\n"], message: "Half-resolved", in: clone)
            let push = try await self.push(["origin", "main"], in: clone)

            #expect(!push.succeeded)
            #expect(
                push.stderr.contains(
                    "keel guard: refused push of refs/heads/main: conflict markers added in docs/x.md:3, src/a.swift:2, src/a.swift:4, src/a.swift:6 "
                        + "— resolve the conflict, commit, and push again"
                ),
                "\(push.stderr)"
            )
            #expect(try await git.remoteBranchHead(url: origin, branch: "main") == before)
        }
    }

    @Test func crlfMarkersAreRefused() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await guardedClone(of: try await repos.makeOrigin(), repos: repos)
            try await git.checkoutNewBranch("feature", from: "origin/main", in: clone)
            try await repos.commit(["win.txt": "a\r\n<<<<<<<\r\nours\r\n=======\r\ntheirs\r\n>>>>>>>\r\n"], message: "CRLF conflict", in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(!push.succeeded)
            #expect(
                push.stderr.contains("refused push of refs/heads/feature: conflict markers added in win.txt:2, win.txt:4, win.txt:6 "),
                "\(push.stderr)")
        }
    }

    @Test func markdownRulesAndLookalikesAreNotMarkers() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await guardedClone(of: try await repos.makeOrigin(), repos: repos)
            let doc = """
                Title
                =======

                <<<<<<<x is not a marker, nor is
                >>>>>>>> eight of them, nor
                ||||||||
                =======
                above, which no marker encloses.

                """
            try await repos.commit(["docs/guide.md": doc], message: "Docs", in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(!push.stderr.contains("keel guard"))
        }
    }

    @Test func markersAlreadyOnTheRemoteAreNotThePushs() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin(files: ["README.md": "# Seed\n", "Tests/Fixtures/conflict.txt": Self.conflict])
            let clone = try await guardedClone(of: origin, repos: repos)

            // An update of main that does not touch the fixture.
            try await repos.commit(["README.md": "# Seed, edited\n"], message: "Edit README", in: clone)
            let update = try await push(["origin", "main"], in: clone)
            #expect(update.succeeded, "\(update.stderr)")

            // A new branch off main carries the fixture.
            try await git.checkoutNewBranch("feature", from: "main", in: clone)
            try await repos.commit(["feature.txt": "work\n"], message: "Work", in: clone)
            let created = try await push(["origin", "feature"], in: clone)
            #expect(created.succeeded, "\(created.stderr)")

            // main gains another document with markers; merging main into the branch brings it,
            // but the remote already has it.
            try await repos.pushCommit(files: ["docs/merging.md": "How a conflict looks:\n\n" + Self.conflict], branch: "main", to: origin)
            try await git.fetch(in: clone)
            _ = try await git.merge("origin/main", message: "Merge main", in: clone)
            let merged = try await push(["origin", "feature"], in: clone)
            #expect(merged.succeeded, "\(merged.stderr)")
            #expect(!merged.stderr.contains("keel guard"))
        }
    }

    @Test func markersOnlyInTheWorkingTreeAreNotPushed() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await guardedClone(of: try await repos.makeOrigin(), repos: repos)
            try await repos.commit(["done.txt": "done\n"], message: "Done", in: clone)
            try repos.write(["README.md": Self.conflict], in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(try await git.hasChanges(in: clone))
        }
    }

    @Test func everyPushedRefIsScanned() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let clone = try await guardedClone(of: origin, repos: repos)
            try await git.checkoutNewBranch("a", from: "origin/main", in: clone)
            try await repos.commit(["a.txt": "clean\n"], message: "A", in: clone)
            try await git.checkoutNewBranch("b", from: "origin/main", in: clone)
            try await repos.commit(["b.txt": "b\n" + Self.conflict], message: "B", in: clone)
            try await git.checkout("main", in: clone)

            let push = try await self.push(["origin", "a", "b"], in: clone)
            #expect(!push.succeeded)
            #expect(push.stderr.contains("refused push of refs/heads/b: conflict markers added in b.txt:2, b.txt:4, b.txt:6 "), "\(push.stderr)")
            #expect(!push.stderr.contains("refs/heads/a"))
            #expect(try await git.remoteBranchHead(url: origin, branch: "b") == nil)
        }
    }

    @Test func markersAddedThenRemovedWithinThePushPass() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await guardedClone(of: try await repos.makeOrigin(), repos: repos)
            try await repos.commit(["src/a.swift": Self.conflict], message: "Oops", in: clone)
            try await repos.commit(["src/a.swift": "ours\n"], message: "Resolve", in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
        }
    }

    @Test func binaryFilesAreSkipped() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await guardedClone(of: try await repos.makeOrigin(), repos: repos)
            try await repos.commit(["assets/blob.bin": "\u{0}\u{1}\u{2}binary\n" + Self.conflict], message: "Binary", in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
        }
    }

    // MARK: - Layer 2: merge sources

    @Test func mergingAForeignBranchIsRefusedNamingItsCommits() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let d1 = try await repos.pushCommit(files: ["dev1.txt": "1\n"], message: "Develop one", branch: "develop", to: origin)
            let d2 = try await repos.pushCommit(files: ["dev2.txt": "2\n"], message: "Develop two", branch: "develop", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, base: "main")
            try await git.checkoutNewBranch("feature", from: "origin/main", in: clone)
            try await repos.commit(["feature.txt": "work\n"], message: "Feature", in: clone)
            _ = try await git.merge("origin/develop", message: "Backport fixes", in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(!push.succeeded)
            #expect(push.stderr.contains("keel guard: refused push of refs/heads/feature: it brings 2 commits from develop ("), "\(push.stderr)")
            #expect(push.stderr.contains("\(d2.prefix(10)) Develop two; \(d1.prefix(10)) Develop one"), "\(push.stderr)")
            #expect(push.stderr.contains("into a branch based on main"))
            #expect(push.stderr.contains("git config --add keel.guard.allow develop"))
            #expect(try await git.remoteBranchHead(url: origin, branch: "feature") == nil)
        }
    }

    @Test func fastForwardOntoForeignHistoryIsRefused() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let tip = try await repos.pushCommit(files: ["feature.txt": "work\n"], branch: "feature", to: origin)
            let drift = try await repos.pushCommit(files: ["dev.txt": "drift\n"], message: "Drift", branch: "develop", from: "feature", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, branch: "feature", base: "main")
            try await git.run(["merge", "--ff-only", "origin/develop"], in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(!push.succeeded)
            #expect(
                push.stderr.contains("refused push of refs/heads/feature: it brings 1 commit from develop (\(drift.prefix(10)) Drift)"),
                "\(push.stderr)")
            #expect(try await git.remoteBranchHead(url: origin, branch: "feature") == tip)
        }
    }

    @Test func mergingTheBaseIsAllowed() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            try await repos.pushCommit(files: ["dev.txt": "drift\n"], branch: "develop", to: origin)
            try await repos.pushCommit(files: ["feature.txt": "work\n"], branch: "feature", to: origin)
            try await repos.pushCommit(files: ["main.txt": "moved on\n"], branch: "main", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, branch: "feature", base: "main")
            _ = try await git.merge("origin/main", message: "Merge main", in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(!push.stderr.contains("keel guard"))
        }
    }

    @Test func mergingAnAllowedBranchIsAllowed() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            try await repos.pushCommit(files: ["dev.txt": "drift\n"], branch: "develop", to: origin)
            try await repos.pushCommit(files: ["fix.txt": "fix\n"], branch: "release/1.2", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, base: "main", allow: ["hotfix", "release/1.2"])
            try await git.checkoutNewBranch("feature", from: "origin/main", in: clone)
            try await repos.commit(["feature.txt": "work\n"], message: "Feature", in: clone)
            _ = try await git.merge("origin/release/1.2", message: "Merge the release fix", in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
        }
    }

    @Test func theBranchsOwnPreviousTipIsAllowed() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            try await repos.pushCommit(files: ["feature.txt": "one\n"], branch: "feature", to: origin)
            // Another branch grew from the feature: its commits are on a foreign branch too.
            try await repos.pushCommit(files: ["other.txt": "x\n"], branch: "other", from: "feature", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, branch: "feature", base: "main")
            let next = try await repos.commit(["feature.txt": "two\n"], message: "More", in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(try await git.remoteBranchHead(url: origin, branch: "feature") == next)
        }
    }

    @Test func mergeSourcesAreNotCheckedWithoutABaseButMarkersStillAre() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            try await repos.pushCommit(files: ["dev.txt": "drift\n"], branch: "develop", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos)
            try await git.checkoutNewBranch("feature", from: "origin/main", in: clone)
            try await repos.commit(["feature.txt": "work\n"], message: "Feature", in: clone)
            _ = try await git.merge("origin/develop", message: "Merge develop", in: clone)

            let merged = try await push(["origin", "feature"], in: clone)
            #expect(merged.succeeded, "\(merged.stderr)")

            try await repos.commit(["feature.txt": Self.conflict], message: "Conflict", in: clone)
            let marked = try await push(["origin", "feature"], in: clone)
            #expect(!marked.succeeded)
            #expect(marked.stderr.contains("conflict markers added in feature.txt:1, feature.txt:3, feature.txt:5 "), "\(marked.stderr)")
        }
    }

    /// Incident 1 of the field report: `git merge develop` into a main-targeted branch, the
    /// conflict half resolved and committed anyway.
    @Test func halfResolvedMergeOfDevelopIsRefusedByBothLayers() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin(files: ["shared.txt": "base\n"])
            let drift = try await repos.pushCommit(files: ["shared.txt": "develop\n"], message: "Develop drift", branch: "develop", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, base: "main")
            try await git.checkoutNewBranch("feature", from: "origin/main", in: clone)
            try await repos.commit(["shared.txt": "feature\n"], message: "Feature", in: clone)
            let outcome = try await execute("git", ["merge", "origin/develop"], in: clone)
            #expect(outcome.status != 0)
            try await git.run(["commit", "--quiet", "--all", "--no-edit"], in: clone)

            let push = try await self.push(["origin", "feature"], in: clone)
            #expect(!push.succeeded)
            #expect(push.stderr.contains("conflict markers added in shared.txt:1, shared.txt:3, shared.txt:5 "), "\(push.stderr)")
            #expect(push.stderr.contains("it brings 1 commit from develop (\(drift.prefix(10)) Develop drift)"), "\(push.stderr)")
            #expect(try await git.remoteBranchHead(url: origin, branch: "feature") == nil)
        }
    }

    // MARK: - Fail-safe

    @Test func unreadableHookInputLetsThePushThroughWithAWarning() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            try installFeedingHook("this is not what git sends", in: clone)
            try await repos.commit(["work.txt": "work\n"], message: "Work", in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(push.stderr.contains("keel guard: warning: cannot read the pre-push input line \"this is not what git sends\""), "\(push.stderr)")
        }
    }

    @Test func unknownCommitLetsThePushThroughWithAWarning() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            let missing = String(repeating: "1", count: 40)
            try installFeedingHook("refs/heads/main \(missing) refs/heads/main \(String(repeating: "0", count: 40))", in: clone)
            try await repos.commit(["work.txt": "work\n"], message: "Work", in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(push.stderr.contains("keel guard: warning: \(missing) (pushed as refs/heads/main) is not a commit"), "\(push.stderr)")
        }
    }

    @Test func brokenBaseSettingWarnsButFoundMarkersAreStillRefused() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            try await repos.pushCommit(files: ["dev.txt": "drift\n"], branch: "develop", to: origin)
            let clone = try await guardedClone(of: origin, repos: repos, base: "no-such-branch")
            try await git.checkoutNewBranch("feature", from: "origin/main", in: clone)
            _ = try await git.merge("origin/develop", message: "Merge develop", in: clone)

            let merged = try await push(["origin", "feature"], in: clone)
            #expect(merged.succeeded, "\(merged.stderr)")
            #expect(
                merged.stderr.contains(
                    "keel guard: warning: keel.guard.base is \"no-such-branch\", but refs/remotes/origin/no-such-branch does not exist"),
                "\(merged.stderr)")

            try await git.run(["config", "keel.guard.base", ""], in: clone)
            try await repos.commit(["feature.txt": Self.conflict], message: "Conflict", in: clone)
            let marked = try await push(["origin", "feature"], in: clone)
            #expect(!marked.succeeded)
            #expect(marked.stderr.contains("keel guard: warning: keel.guard.base is set but empty"), "\(marked.stderr)")
            #expect(marked.stderr.contains("refused push of refs/heads/feature: conflict markers added in feature.txt:1, "), "\(marked.stderr)")
        }
    }

    @Test func missingKeelBinaryLetsThePushThroughWithAWarning() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            try await GuardInstaller.install(in: clone, keelExecutable: tmp.path("gone", "keel"))
            try await repos.commit(["work.txt": Self.conflict], message: "Unchecked", in: clone)

            let push = try await self.push(["origin", "main"], in: clone)
            #expect(push.succeeded, "\(push.stderr)")
            #expect(push.stderr.contains("keel guard: warning: \(tmp.path("gone", "keel")) is missing; the push was not checked"), "\(push.stderr)")
        }
    }

    // MARK: - Library and installation

    @Test func libraryVerdictNamesTheMarkers() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            let head = try await repos.commit(["a.txt": "x\n" + Self.conflict], message: "Conflict", in: clone)
            let zero = String(repeating: "0", count: 40)
            let input = "refs/heads/main \(head) refs/heads/topic \(zero)\n\ngarbage\n"

            let verdict = await PrePushGuard().check(remoteName: "origin", remoteURL: "unused", hookInput: input, in: clone)
            #expect(!verdict.allowsPush)
            let markers = [2, 4, 6].map { ConflictMarker(path: "a.txt", line: $0) }
            #expect(verdict.refusals == [GuardRefusal(remoteRef: "refs/heads/topic", reason: .conflictMarkers(markers))])
            #expect(verdict.warnings.count == 1)
            #expect(verdict.report.count == 2)
        }
    }

    @Test func installRefusesAnotherHookAndLeavesItAlone() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            let hook = "\(clone)/.git/hooks/pre-push"
            let theirs = "#!/bin/sh\necho their hook\n"
            try Data(theirs.utf8).write(to: URL(fileURLWithPath: hook))

            let cli = try await execute(try KeelBinary.path, ["guard", "install", "--repo", clone], in: tmp.path)
            #expect(cli.status == 1)
            #expect(cli.stderr.hasPrefix("keel: \(hook) already exists and is not Keel's"), "\(cli.stderr)")
            #expect(cli.stderr.split(separator: "\n").count == 1)
            #expect(try String(contentsOfFile: hook, encoding: .utf8) == theirs)

            let error = await #expect(throws: GitError.self) {
                try await GuardInstaller.install(in: clone, keelExecutable: try KeelBinary.path)
            }
            #expect(error?.code == .foreignHook)
        }
    }

    @Test func installingTwiceLeavesOneWorkingHook() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            let hook = "\(clone)/.git/hooks/pre-push"
            let keel = URL(fileURLWithPath: try KeelBinary.path).resolvingSymlinksInPath().path

            let first = try await execute(keel, ["guard", "install"], in: clone)
            #expect(first.status == 0, "\(first.stderr)")
            let written = try String(contentsOfFile: hook, encoding: .utf8)
            let second = try await execute(keel, ["guard", "install", "--repo", "."], in: clone)
            #expect(second.status == 0, "\(second.stderr)")

            #expect(try String(contentsOfFile: hook, encoding: .utf8) == written)
            #expect(written == GuardInstaller.script(keelExecutable: keel))
            #expect(FileManager.default.isExecutableFile(atPath: hook))
            try await repos.commit(["a.txt": Self.conflict], message: "Conflict", in: clone)
            let push = try await self.push(["origin", "main"], in: clone)
            #expect(!push.succeeded)
            #expect(push.stderr.contains("conflict markers added in a.txt:1, a.txt:3, a.txt:5 "), "\(push.stderr)")
        }
    }

    @Test func hookInputIsReadLineByLine() {
        let oid = String(repeating: "a", count: 40)
        let zero = String(repeating: "0", count: 40)
        let input = PrePushInput(parsing: "refs/heads/a \(oid) refs/heads/a \(zero)\r\n(delete) \(zero) refs/heads/old \(oid)\n\nnonsense here\n")
        #expect(input.updates.count == 1 + 1)
        #expect(input.updates.first?.createsRef == true)
        #expect(input.updates.last?.deletesRef == true)
        #expect(input.updates.last?.remoteBranch == "old")
        #expect(input.malformedLines == ["nonsense here"])
    }

    // MARK: - Helpers

    /// A clone of `origin` with the guard installed, and the merge-source policy when `base`
    /// is given.
    func guardedClone(of origin: String, repos: RepoBuilder, branch: String? = nil, base: String? = nil, allow: [String] = [])
        async throws -> String
    {
        let clone = try await repos.makeWorkClone(of: origin, branch: branch)
        try await GuardInstaller.install(in: clone, keelExecutable: try KeelBinary.path)
        if let base { try await git.run(["config", "keel.guard.base", base], in: clone) }
        for name in allow { try await git.run(["config", "--add", "keel.guard.allow", name], in: clone) }
        return clone
    }

    /// A hook that hands the guard `input` instead of what git wrote: input git itself never
    /// produces, delivered through a real push.
    func installFeedingHook(_ input: String, in clone: String) throws {
        let keel = try KeelBinary.path
        let hook = "\(clone)/.git/hooks/pre-push"
        let script = "#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '\(input)' | '\(keel)' guard pre-push \"$@\"\n"
        try Data(script.utf8).write(to: URL(fileURLWithPath: hook))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
    }

    struct Run {
        var status: Int32?
        var stderr: String
        var succeeded: Bool { status == 0 }
    }

    /// `git push <arguments>` in `clone`, as an agent runs it.
    func push(_ arguments: [String], in clone: String) async throws -> Run {
        try await execute("git", ["push"] + arguments, in: clone)
    }

    func execute(_ executable: String, _ arguments: [String], in dir: String) async throws -> Run {
        var spec = ProcessSpec(
            executable: executable,
            arguments: arguments,
            environment: ["GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"],
            workingDirectory: dir,
            wallClockLimit: .seconds(120)
        )
        spec.unsetEnvironment = Git.repositoryLocatingVariables.sorted()
        let captured = try await ProcessRunner().capture(spec)
        let status: Int32? = if case .exited(let code) = captured.outcome.termination { code } else { nil }
        return Run(status: status, stderr: captured.stderr)
    }
}
