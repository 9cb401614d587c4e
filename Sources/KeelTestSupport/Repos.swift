import Foundation
public import KeelGit

/// A fresh directory under the system's temporary directory, for one test's files.
///
/// Prefer ``withTemporaryDirectory(prefix:isolation:_:)``, which removes it afterwards.
public struct TemporaryDirectory: Sendable {
    /// The directory's absolute path, symbolic links resolved (on macOS `/var` is a link to
    /// `/private/var`, and git reports resolved paths).
    public let path: String

    /// Creates a new, empty directory whose name starts with `prefix`.
    public init(prefix: String = "keel") throws {
        let base = FileManager.default.temporaryDirectory.resolvingSymlinksInPath()
        let url = base.appendingPathComponent("\(prefix)-\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.path = url.path
    }

    /// The path of `components` inside the directory, e.g. `tmp.path("origin.git")`.
    public func path(_ components: String...) -> String {
        components.reduce(path) { ($0 as NSString).appendingPathComponent($1) }
    }

    /// Deletes the directory and everything in it; a missing directory is not an error.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with a fresh ``TemporaryDirectory`` and removes the directory afterwards,
/// whether `body` returns or throws.
///
/// ```swift
/// @Test func cloneSeesSeedFiles() async throws {
///     try await withTemporaryDirectory { tmp in
///         let repos = RepoBuilder(root: tmp.path)
///         let origin = try await repos.makeOrigin(files: ["README.md": "hello\n"])
///         let clone = try await repos.makeWorkClone(of: origin)
///         #expect(FileManager.default.fileExists(atPath: "\(clone)/README.md"))
///     }
/// }
/// ```
public func withTemporaryDirectory<Result>(
    prefix: String = "keel",
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TemporaryDirectory) async throws -> Result
) async throws -> Result {
    let directory = try TemporaryDirectory(prefix: prefix)
    defer { directory.remove() }
    return try await body(directory)
}

/// Builds real git repositories for tests: a bare origin seeded with a first commit, work
/// clones of it, and commits pushed to its branches.
///
/// Everything is created under ``root``; nothing depends on the machine's git configuration
/// (the ``Git`` driver supplies identity and default branch).
///
/// ```swift
/// let repos = RepoBuilder(root: tmp.path)
/// let origin = try await repos.makeOrigin(files: ["shared.txt": "base\n"])
/// let feature = try await repos.pushCommit(files: ["shared.txt": "feature\n"], branch: "feature", to: origin)
/// let moved = try await repos.pushCommit(files: ["other.txt": "x\n"], branch: "main", to: origin)
/// ```
public struct RepoBuilder: Sendable {
    /// The directory that holds every repository this builder makes.
    public let root: String
    /// The git driver used for every command.
    public let git: Git

    /// Creates a builder that makes its repositories under `root` (which must exist).
    public init(root: String, git: Git = Git()) {
        self.root = root
        self.git = git
    }

    /// Creates a bare repository `<root>/<name>.git` whose `branch` holds one commit with
    /// `files` (paths relative to the repository, subdirectories allowed).
    ///
    /// - Returns: the origin's path, usable as a clone URL.
    @discardableResult
    public func makeOrigin(
        named name: String = "origin",
        branch: String = "main",
        files: [String: String] = ["README.md": "# Seed\n"],
        message: String = "Seed"
    ) async throws -> String {
        let origin = (root as NSString).appendingPathComponent("\(name).git")
        try await git.initBare(at: origin, initialBranch: branch)
        let seed = try await makeWorkClone(of: origin)
        // The clone of an empty repository has an unborn HEAD; point it at the branch to seed.
        try await git.run(["symbolic-ref", "HEAD", "refs/heads/\(branch)"], in: seed)
        try await commit(files, message: message, in: seed)
        try await git.push(refspec: "HEAD:refs/heads/\(branch)", in: seed)
        return origin
    }

    /// Clones `origin` into a new directory under ``root``, checking out `branch` (or the
    /// origin's default branch).
    ///
    /// - Returns: the clone's path.
    public func makeWorkClone(of origin: String, branch: String? = nil) async throws -> String {
        let dir = (root as NSString).appendingPathComponent("work-\(UUID().uuidString.prefix(8).lowercased())")
        try await git.clone(origin, into: dir, branch: branch)
        return dir
    }

    /// Writes `files` (relative path to content) into the working tree at `dir`, creating
    /// subdirectories as needed; nothing is staged.
    public func write(_ files: [String: String], in dir: String) throws {
        for (relativePath, content) in files {
            let url = URL(fileURLWithPath: dir).appendingPathComponent(relativePath)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
    }

    /// Writes `files` into `dir` and commits everything that changed.
    ///
    /// - Returns: the new commit's sha.
    /// - Throws: ``RepoBuilderError`` when the files change nothing.
    @discardableResult
    public func commit(_ files: [String: String], message: String, in dir: String) async throws -> String {
        try write(files, in: dir)
        guard let sha = try await git.commitAll(message: message, in: dir) else {
            throw RepoBuilderError(message: "Committing \(files.keys.sorted()) in \(dir) changed nothing; give the files new content.")
        }
        return sha
    }

    /// Commits `files` on `branch` of `origin` and pushes it, as another developer would: the
    /// branch is created from `base` when the origin lacks it, and extended otherwise.
    ///
    /// - Returns: the pushed commit's sha, now the branch's head in the origin.
    @discardableResult
    public func pushCommit(
        files: [String: String],
        message: String? = nil,
        branch: String,
        from base: String = "main",
        to origin: String
    ) async throws -> String {
        let exists = try await git.remoteBranchHead(url: origin, branch: branch) != nil
        let clone = try await makeWorkClone(of: origin, branch: exists ? branch : base)
        defer { try? FileManager.default.removeItem(atPath: clone) }
        if !exists {
            try await git.checkoutNewBranch(branch, from: "origin/\(base)", in: clone)
        }
        let sha = try await commit(files, message: message ?? "Change \(files.keys.sorted().joined(separator: ", "))", in: clone)
        try await git.push(refspec: "HEAD:refs/heads/\(branch)", in: clone)
        return sha
    }
}

/// A ``RepoBuilder`` request that cannot be carried out as asked.
public struct RepoBuilderError: Error, Sendable, CustomStringConvertible {
    /// What was wrong and how to change the test.
    public let message: String

    /// Creates an error.
    public init(message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
