/// What ``PrePushGuard`` decided about a push: what it positively found (each a reason to refuse)
/// and where it could not look (warnings, which never hold a push back).
///
/// ```swift
/// let verdict = await PrePushGuard().check(remoteName: "origin", remoteURL: url, hookInput: stdin, in: clone)
/// verdict.report.forEach { print($0) }      // "keel guard: refused push of refs/heads/…"
/// exit(verdict.allowsPush ? 0 : 1)
/// ```
public struct GuardVerdict: Sendable, Equatable {
    /// What the guard found, one entry per pushed ref and layer; empty when the push may go.
    public var refusals: [GuardRefusal]
    /// Checks the guard could not carry out, each a one-line explanation starting with
    /// `keel guard: warning:`.
    public var warnings: [String]

    /// Creates a verdict.
    public init(refusals: [GuardRefusal] = [], warnings: [String] = []) {
        self.refusals = refusals
        self.warnings = warnings
    }

    /// Whether the push may go: nothing was found. A guard that failed lets the push through.
    public var allowsPush: Bool { refusals.isEmpty }

    /// The lines to print on standard error: the refusals, then the warnings.
    public var report: [String] { refusals.map(\.message) + warnings }

    mutating func warn(_ what: String, consequence: String) {
        warnings.append("keel guard: warning: \(what); \(consequence)")
    }
}

/// One reason to refuse a push: a pushed ref brings conflict markers or commits from a branch
/// it may not take commits from.
public struct GuardRefusal: Sendable, Equatable {
    /// What the guard found.
    public enum Reason: Sendable, Equatable {
        /// Conflict-marker lines the push adds, in path and line order.
        case conflictMarkers([ConflictMarker])
        /// Commits from other branches of the remote than `base`, the allowed ones and the
        /// branch itself, grouped by the branch they come from.
        case foreignCommits(base: String, remote: String, sources: [ForeignCommits])
    }

    /// The ref on the remote the push would update, e.g. `refs/heads/feature`.
    public var remoteRef: String
    /// What the guard found.
    public var reason: Reason

    /// Creates a refusal.
    public init(remoteRef: String, reason: Reason) {
        self.remoteRef = remoteRef
        self.reason = reason
    }

    /// How many locations or commits a message names before it summarises the rest.
    static let listedLimit = 20

    /// One line saying what was found and what to do, e.g.
    /// `keel guard: refused push of refs/heads/feature: conflict markers added in src/a.swift:12,
    /// docs/x.md:40 — resolve the conflict, commit, and push again`.
    public var message: String {
        let head = "keel guard: refused push of \(remoteRef): "
        switch reason {
        case .conflictMarkers(let markers):
            let listed = Self.list(markers.map(\.description), limit: Self.listedLimit)
            return head + "conflict markers added in \(listed) — resolve the conflict, commit, and push again"
        case .foreignCommits(let base, let remote, let sources):
            let parts = sources.map { source in
                let noun = source.commits.count == 1 ? "commit" : "commits"
                let examples = Self.list(source.commits.map { "\($0.sha.prefix(10)) \($0.subject)" }, limit: 5, separator: "; ")
                return "\(source.commits.count) \(noun) from \(source.branch) (\(examples))"
            }
            let names = sources.map(\.branch)
            let allow = names.map { "git config --add keel.guard.allow \($0)" }.joined(separator: "; ")
            return head + "it brings \(parts.joined(separator: " and ")) into a branch based on \(base) — "
                + "rebuild it with only your own commits on top of \(remote)/\(base) "
                + "(e.g. git rebase --onto \(remote)/\(base) \(remote)/\(names[0])) and push again; "
                + "if \(names.joined(separator: " and ")) may feed this branch: \(allow)"
        }
    }

    static func list(_ items: [String], limit: Int, separator: String = ", ") -> String {
        guard items.count > limit else { return items.joined(separator: separator) }
        return items.prefix(limit).joined(separator: separator) + "\(separator)and \(items.count - limit) more"
    }
}

/// Commits a push would bring into a branch from another branch of the remote.
public struct ForeignCommits: Sendable, Equatable {
    /// The remote's branch they come from, e.g. `develop`.
    public var branch: String
    /// The commits, newest first.
    public var commits: [CommitSummary]

    /// Creates a group.
    public init(branch: String, commits: [CommitSummary]) {
        self.branch = branch
        self.commits = commits
    }
}

/// A commit named in a refusal.
public struct CommitSummary: Sendable, Hashable {
    /// The full object name.
    public var sha: String
    /// The first line of its message.
    public var subject: String

    /// Creates a summary.
    public init(sha: String, subject: String) {
        self.sha = sha
        self.subject = subject
    }
}
