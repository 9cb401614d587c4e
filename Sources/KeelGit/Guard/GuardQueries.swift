import Foundation

/// The history queries the pre-push guard makes, each one git command.
///
/// They run through ``Git/execute(_:in:)`` because for several of them a non-zero status is an
/// answer (`git grep` finds nothing, `git config` has no such key), not a failure.
extension Git {
    /// The lines of `commit`'s tree that start like a conflict marker, grouped by path, in file
    /// order. Binary files are skipped (`-I`: git's own test, NUL bytes or the `binary` attribute).
    func markerShapedLines(in commit: String, dir: String) async throws -> [String: [(number: Int, text: [UInt8])]] {
        let output = try await execute(
            [
                "grep", "-I", "-n", "-z", "--full-name", "--no-color", "--no-textconv", "--no-recurse-submodules", "-G",
                "-e", "^<<<<<<<", "-e", "^|||||||", "-e", "^=======", "-e", "^>>>>>>>", commit, "--",
            ],
            in: dir
        )
        switch output.status {
        case 0: break
        case 1: return [:]
        default: throw output.failure(advice: "Check that \(commit) is a commit of \(dir).")
        }
        // Each hit is "<rev>:<path>\0<line number>\0<text>\n"; the text keeps a CR before the
        // newline, which a String would fuse with it into one Character, so parse bytes.
        var hits: [String: [(number: Int, text: [UInt8])]] = [:]
        let bytes = Array(output.stdout.utf8)
        var index = 0
        func field(until terminator: UInt8) -> ArraySlice<UInt8>? {
            guard let end = bytes[index...].firstIndex(of: terminator) else { return nil }
            defer { index = end + 1 }
            return bytes[index..<end]
        }
        while index < bytes.count {
            guard let name = field(until: 0), let number = field(until: 0), let text = field(until: UInt8(ascii: "\n")),
                let colon = name.firstIndex(of: UInt8(ascii: ":")),
                let line = Int(String(decoding: number, as: UTF8.self))
            else {
                throw GitError(
                    code: .commandFailed,
                    message: "`git grep` in \(dir) printed a line the guard cannot read.",
                    command: ["grep"]
                )
            }
            let path = String(decoding: name[(colon + 1)...], as: UTF8.self)
            hits[path, default: []].append((line, Array(text)))
        }
        return hits
    }

    /// The line numbers of `path` in `commit` that `git diff base commit` shows as added.
    func addedLines(of path: String, from base: String, to commit: String, dir: String) async throws -> [ClosedRange<Int>] {
        let diff = try await run(
            [
                "--literal-pathspecs", "diff", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
                "--no-relative", base, commit, "--", path,
            ],
            in: dir
        )
        var added: [ClosedRange<Int>] = []
        for line in diff.gitLines() where line.hasPrefix("@@ ") {
            // "@@ -a[,b] +c[,d] @@": d lines starting at c are the new side (d defaults to 1).
            guard let newSide = line.split(separator: " ").first(where: { $0.hasPrefix("+") }) else { continue }
            let numbers = newSide.dropFirst().split(separator: ",")
            guard let start = numbers.first.flatMap({ Int($0) }) else { continue }
            let count = numbers.count > 1 ? Int(numbers[1]) ?? 0 : 1
            if count > 0 { added.append(start...(start + count - 1)) }
        }
        return added
    }

    /// Which of `lines` of `path` in `commit` come from a commit that `exclusions` do not reach.
    ///
    /// `git blame` follows the lines back through every parent (merges and whole-file renames
    /// included) and stops at the excluded commits: a line it pins on one of those ("boundary")
    /// was already there; any other line was written by a commit the push brings.
    func linesIntroduced(_ lines: [Int], of path: String, in commit: String, excluding exclusions: [String], dir: String)
        async throws -> [Int]
    {
        guard !lines.isEmpty else { return [] }
        var args = ["--literal-pathspecs", "blame", "--porcelain", "--root", "--ignore-revs-file", ""]
        args += lines.flatMap { ["-L", "\($0),\($0)"] }
        args.append(commit)
        args += exclusions.map { "^\($0)" }
        args += ["--", path]
        let porcelain = try await run(args, in: dir)
        var blamed: [(commit: Substring, line: Int)] = []
        var boundaries: Set<Substring> = []
        var current: Substring?
        for line in porcelain.gitLines() where !line.hasPrefix("\t") {
            if line == "boundary", let current {
                boundaries.insert(current)
                continue
            }
            // A header: "<sha> <original line> <final line>[ <group size>]".
            let fields = line.split(separator: " ")
            guard fields.count >= 3, PushUpdate.isObjectName(fields[0]), let final = Int(fields[2]) else { continue }
            current = fields[0]
            blamed.append((fields[0], final))
        }
        return blamed.filter { !boundaries.contains($0.commit) }.map(\.line).sorted()
    }

    /// The best common ancestor of `commit` and everything in `others`, or `nil` when they share
    /// no history.
    func mergeBase(of commit: String, withAnyOf others: [String], dir: String) async throws -> String? {
        guard !others.isEmpty else { return nil }
        let output = try await execute(["merge-base", commit] + others, in: dir)
        switch output.status {
        case 0: return output.stdout.gitLines().first.map(String.init)
        case 1: return nil
        default: throw output.failure(advice: "Check that \(commit) is a commit of \(dir).")
        }
    }

    /// The branches under `refs/remotes/<remote>/` with their commits (the symbolic `HEAD`
    /// left out).
    func remoteTrackingBranches(of remote: String, dir: String) async throws -> [(branch: String, oid: String)] {
        let prefix = "refs/remotes/\(remote)/"
        let listing = try await run(["for-each-ref", "--format=%(objectname) %(refname)", prefix], in: dir)
        return listing.gitLines().compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, fields[1].hasPrefix(prefix) else { return nil }
            let branch = String(fields[1].dropFirst(prefix.count))
            return branch == "HEAD" ? nil : (branch, String(fields[0]))
        }
    }

    /// The commits reachable from `commit` but from none of `exclusions`, newest first.
    func commits(reachableFrom commit: String, excluding exclusions: [String], dir: String) async throws -> [String] {
        let listing = try await run(["rev-list", commit, "--not"] + exclusions, in: dir)
        return listing.gitLines().map(String.init)
    }

    /// For every commit reachable from `sources` but from none of `exclusions`: the source that
    /// reaches it (as given) and its subject.
    func sourcesOfCommits(from sources: [String], excluding exclusions: [String], dir: String) async throws
        -> [String: (source: String, subject: String)]
    {
        guard !sources.isEmpty else { return [:] }
        let listing = try await run(
            ["log", "--no-show-signature", "--source", "--format=%H%x09%S%x09%s"] + sources + ["--not"] + exclusions + ["--"],
            in: dir
        )
        var result: [String: (source: String, subject: String)] = [:]
        for line in listing.gitLines() {
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else { continue }
            result[String(fields[0])] = (String(fields[1]), fields.count == 3 ? String(fields[2]) : "")
        }
        return result
    }

    /// Every value of `key` in `dir`'s configuration (empty when it is not set).
    func configValues(_ key: String, dir: String) async throws -> [String] {
        let output = try await execute(["config", "--get-all", key], in: dir)
        switch output.status {
        case 0: return output.stdout.gitLines(omittingEmpty: false).dropLast().map(String.init)
        case 1: return []
        default: throw output.failure(advice: "Fix the value of \(key) in the repository's git configuration.")
        }
    }

    /// The top of `dir`'s working tree, or `dir` itself for a bare repository or a `.git`
    /// directory (where paths are already relative to the top).
    func topLevel(of dir: String) async -> String {
        guard let output = try? await execute(["rev-parse", "--show-toplevel"], in: dir), output.status == 0 else { return dir }
        let top = output.stdout.trimmingCharacters(in: .newlines)
        return top.isEmpty ? dir : top
    }
}

extension String {
    /// The lines of git's output, split on "\n" alone. Splitting a String on "\n" compares
    /// Characters, and "\r\n" is one Character: a CRLF line (a Windows file in a diff, a blame
    /// or a grep) would swallow the line after it.
    func gitLines(omittingEmpty: Bool = true) -> [Substring] {
        unicodeScalars.split(separator: "\n", omittingEmptySubsequences: omittingEmpty).map { Substring($0) }
    }
}
