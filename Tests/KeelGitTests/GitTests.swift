import Foundation
import KeelGit
import KeelTestSupport
import Testing

@Suite struct GitTests {
    let git = Git()

    @Test func committedAndPushedWorkReachesAnotherClone() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin(files: ["README.md": "seed\n"])
            let first = try await repos.makeWorkClone(of: origin)
            let seed = try #require(try await git.revParse("HEAD", in: first))

            let sha = try await repos.commit(["src/app.txt": "hello\n"], message: "Add app", in: first)
            try await git.push(refspec: "HEAD:refs/heads/main", in: first)

            #expect(try await git.remoteBranchHead(url: origin, branch: "main") == sha)
            let second = try await repos.makeWorkClone(of: origin, branch: "main")
            #expect(try String(contentsOfFile: "\(second)/src/app.txt", encoding: .utf8) == "hello\n")
            #expect(try await git.isAncestor(seed, of: sha, in: second))
            #expect(try await !git.isAncestor(sha, of: seed, in: second))
            #expect(try await git.log("HEAD", format: "%s", in: second) == ["Add app", "Seed"])
        }
    }

    @Test func untrackedFileCountsAsAChange() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            #expect(try await !git.hasChanges(in: clone))

            try repos.write(["notes/new.txt": "draft\n"], in: clone)
            #expect(try await git.hasChanges(in: clone))

            let sha = try await git.commitAll(message: "Add notes", in: clone)
            #expect(sha != nil)
            #expect(try await git.revParse("HEAD", in: clone) == sha)
            #expect(try await !git.hasChanges(in: clone))
            #expect(try await git.commitAll(message: "Nothing", in: clone) == nil)
        }
    }

    @Test func unknownRevisionParsesToNil() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let clone = try await repos.makeWorkClone(of: origin)
            #expect(try await git.revParse("no-such-branch", in: clone) == nil)
            // A well-formed sha the repository does not have is unknown too.
            #expect(try await git.revParse(String(repeating: "1", count: 40), in: clone) == nil)
            #expect(try await git.revParse("origin/main", in: clone) == git.remoteBranchHead(url: origin, branch: "main"))
            #expect(try await git.remoteBranchHead(url: origin, branch: "no-such-branch") == nil)
        }
    }

    @Test func newBranchStartsAtItsBaseAndPushesSeparately() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let clone = try await repos.makeWorkClone(of: origin)
            let base = try #require(try await git.revParse("origin/main", in: clone))

            try await git.checkoutNewBranch("keel/1", from: "origin/main", in: clone)
            let sha = try await repos.commit(["fix.txt": "fixed\n"], message: "Fix", in: clone)
            try await git.push(refspec: "keel/1:refs/heads/keel/1", in: clone)

            #expect(try await git.remoteBranchHead(url: origin, branch: "keel/1") == sha)
            #expect(try await git.remoteBranchHead(url: origin, branch: "main") == base)
            #expect(try await git.log("origin/main..keel/1", format: "%H", in: clone) == [sha])
        }
    }

    @Test func stalePushIsRejectedAndFetchCatchesUp() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let behind = try await repos.makeWorkClone(of: origin)
            let moved = try await repos.pushCommit(files: ["other.txt": "x\n"], branch: "main", to: origin)

            try await repos.commit(["mine.txt": "y\n"], message: "Mine", in: behind)
            let error = await #expect(throws: GitError.self) {
                try await git.push(refspec: "HEAD:refs/heads/main", in: behind)
            }
            #expect(error?.code == .pushRejected)
            #expect(error?.message.contains("fetch") == true)
            #expect(try await git.remoteBranchHead(url: origin, branch: "main") == moved)

            try await git.fetch(in: behind)
            #expect(try await git.revParse("origin/main", in: behind) == moved)
        }
    }

    @Test func failedCommandReportsCommandLineStatusAndStderr() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            let error = await #expect(throws: GitError.self) {
                try await git.run(["checkout", "no-such-branch"], in: clone)
            }
            #expect(error?.code == .commandFailed)
            #expect(error?.exitStatus == 1)
            #expect(error?.message.contains("git checkout no-such-branch") == true)
            #expect(error?.message.contains(clone) == true)
            #expect(error?.message.contains("did not match") == true)
        }
    }

    @Test func missingExecutableIsALaunchFailure() async throws {
        try await withTemporaryDirectory { tmp in
            let broken = Git(executable: tmp.path("no-such-git"))
            let error = await #expect(throws: GitError.self) {
                try await broken.initBare(at: tmp.path("origin.git"))
            }
            #expect(error?.code == .launchFailed)
        }
    }

    @Test func commitsNeedNoGlobalIdentity() async throws {
        try await withTemporaryDirectory { tmp in
            // An empty HOME and no system config: a fresh machine with no user.name.
            let home = tmp.path("home")
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let bare = Git(environment: ["HOME": home, "XDG_CONFIG_HOME": home, "GIT_CONFIG_NOSYSTEM": "1"])
            let repos = RepoBuilder(root: tmp.path, git: bare)
            let clone = try await repos.makeWorkClone(of: try await repos.makeOrigin())
            #expect(try await bare.log("HEAD", format: "%an <%ae>", in: clone) == ["Keel <keel@localhost>"])
            #expect(try await bare.run(["branch", "--show-current"], in: clone) == "main\n")

            let renamed = Git(environment: bare.environment, configuration: ["user.name": "Keel Bot"])
            try repos.write(["a.txt": "a\n"], in: clone)
            _ = try await renamed.commitAll(message: "As bot", in: clone)
            #expect(try await renamed.log("-1", format: "%an <%ae>", in: clone) == ["Keel Bot <keel@localhost>"])
        }
    }

    @Test func conflictingMergeIsAbortedAndReported() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin(files: ["shared.txt": "base\n"])
            let theirs = try await repos.pushCommit(files: ["shared.txt": "theirs\n"], branch: "feature", to: origin)
            try await repos.pushCommit(files: ["shared.txt": "ours\n"], branch: "main", to: origin)
            let clone = try await repos.makeWorkClone(of: origin, branch: "main")
            let before = try await git.revParse("HEAD", in: clone)

            let outcome = try await git.merge(theirs, message: "Merge feature", in: clone)
            guard case .conflicted(let files, let message) = outcome else {
                Issue.record("expected a conflict, got \(outcome)")
                return
            }
            #expect(files == ["shared.txt"])
            #expect(message.contains("CONFLICT"))
            #expect(try await git.revParse("HEAD", in: clone) == before)
            #expect(try await !git.hasChanges(in: clone))
        }
    }

    @Test func mergeAlwaysMakesAMergeCommit() async throws {
        try await withTemporaryDirectory { tmp in
            let repos = RepoBuilder(root: tmp.path)
            let origin = try await repos.makeOrigin()
            let feature = try await repos.pushCommit(files: ["f.txt": "f\n"], branch: "feature", to: origin)
            let clone = try await repos.makeWorkClone(of: origin, branch: "main")

            // A fast-forward would be possible; the merge commit is made anyway.
            let outcome = try await git.merge(feature, message: "Merge feature", in: clone)
            guard case .merged(let sha) = outcome else {
                Issue.record("expected a merge commit, got \(outcome)")
                return
            }
            #expect(try await git.revParse("\(sha)^2", in: clone) == feature)
            #expect(try await git.merge(feature, message: "Again", in: clone) == .alreadyUpToDate(sha: sha))
        }
    }
}
