public import Foundation
public import KeelGit
import KeelLedger

/// The ledger's off-machine copy: a git repository (a bare repository on another disk or host, a
/// hosted repository) holding the events, the resolution state of every break and the identity.
///
/// Layout on the backup branch:
/// - `ledger/events/00000001.jsonl`, `00000002.jsonl`, ...: the exact event texts, one a line,
///   ``eventsPerFile`` a file, so an append touches only the last file;
/// - `ledger/head.json`: `{"size": N, "head_hash": "..."}`, what the backup holds;
/// - `ledger/breaks.json`: every break with its decision, so a cold start does not alert again;
/// - `ledger/identity.json`: the signer's identity document.
///
/// ```swift
/// let backup = LedgerBackup(remote: "/srv/backups/keel-ledger.git", workDirectory: ".keel/ledger/backup")
/// try await backup.push(head: head, breaks: breaksJSON, identity: identityJSON) { after in try await eventsAfter(after) }
/// ```
public struct LedgerBackup: Sendable {
    /// What the backup holds.
    public struct Head: Sendable, Codable, Equatable {
        public var size: Int64
        public var headHash: String

        public init(size: Int64, headHash: String) {
            self.size = size
            self.headHash = headHash
        }

        enum CodingKeys: String, CodingKey {
            case size
            case headHash = "head_hash"
        }
    }

    /// Everything a cold start restores.
    public struct Snapshot: Sendable {
        public var head: Head?
        /// Event texts in seq order, starting at seq 1.
        public var events: [String]
        public var breaks: Data?
        public var identity: Data?
    }

    public static let eventsPerFile: Int64 = 10_000

    public let remote: String
    public let branch: String
    public let workDirectory: String
    let git: Git

    public init(remote: String, branch: String = "keel-ledger", workDirectory: String, git: Git = Git()) {
        self.remote = remote
        self.branch = branch
        self.workDirectory = workDirectory
        self.git = git
    }

    /// Brings the backup up to `head`: appends the events it lacks (fetched with `eventsAfter`,
    /// which returns the texts of the events with seq greater than its argument, in order),
    /// rewrites the break and identity files, commits and pushes (never forced).
    ///
    /// - Returns: the head the backup held before, or nil when it was empty.
    /// - Throws: ``LedgerBackupError`` `.ahead` when the backup holds more than `head` (the local
    ///   store was truncated or rolled back): nothing is pushed then.
    @discardableResult
    public func push(
        head: Head, breaks: Data, identity: Data, eventsAfter: @Sendable (Int64) async throws -> [String]
    ) async throws -> Head? {
        var lastError: (any Error)?
        for _ in 0..<3 {
            try await sync()
            let before = try readHead()
            if let before, before.size > head.size {
                throw LedgerBackupError(
                    .ahead, "the backup holds \(before.size) events but the store only \(head.size): the store was truncated or rolled back",
                    backup: before)
            }
            let from = before?.size ?? 0
            if from < head.size {
                let events = try await eventsAfter(from)
                // The store must go on from the backup's head: a store cut short that kept writing is
                // as long as the backup again, but its next event links to another head.
                if let before, from > 0, let link = events.first.flatMap({ try? JSONValue.parse($0) })?["previous_hash"]?.stringValue,
                    link != before.headHash
                {
                    throw LedgerBackupError(
                        .ahead, "the store's event \(from + 1) does not follow the backup's head: the store was truncated or rolled back",
                        backup: before)
                }
                try append(events, startingAt: from + 1)
            }
            try write(JSONEncoder.sorted.encode(head), to: "ledger/head.json")
            try write(breaks, to: "ledger/breaks.json")
            try write(identity, to: "ledger/identity.json")
            guard try await git.commitAll(message: "ledger: \(head.size) events, head \(head.headHash.prefix(12))", in: workDirectory) != nil
            else { return before }
            do {
                try await git.push(refspec: "HEAD:refs/heads/\(branch)", in: workDirectory)
                return before
            } catch {
                // Another Keel pushed first: take its work and try again on top of it.
                lastError = error
            }
        }
        throw LedgerBackupError(.pushFailed, "could not push the ledger backup to \(remote) after 3 tries", cause: lastError)
    }

    /// What the backup holds now, or nil when it is empty.
    public func fetchHead() async throws -> Head? {
        try await sync()
        return try readHead()
    }

    /// Everything in the backup, for a cold start.
    public func restore() async throws -> Snapshot {
        try await sync()
        let head = try readHead()
        var events: [String] = []
        if let head, head.size > 0 {
            let files = (head.size - 1) / Self.eventsPerFile + 1
            for index in 1...files {
                let text = try String(contentsOfFile: path(Self.chunk(index)), encoding: .utf8)
                events += text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            }
            guard events.count == head.size else {
                throw LedgerBackupError(
                    .corrupt, "the backup's head.json says \(head.size) events but its event files hold \(events.count)", backup: head)
            }
        }
        return Snapshot(
            head: head, events: events, breaks: FileManager.default.contents(atPath: path("ledger/breaks.json")),
            identity: FileManager.default.contents(atPath: path("ledger/identity.json")))
    }

    // MARK: Working copy

    /// Makes the working copy a clean checkout of the remote branch (or an empty new branch).
    func sync() async throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: workDirectory + "/.git") {
            try? fm.removeItem(atPath: workDirectory)
            try fm.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
            _ = try await git.run(["init", "-q"], in: workDirectory)
            _ = try await git.run(["remote", "add", "origin", remote], in: workDirectory)
        }
        _ = try await git.run(["remote", "set-url", "origin", remote], in: workDirectory)
        if try await git.remoteBranchHead(url: remote, branch: branch) != nil {
            _ = try await git.run(["fetch", "-q", "origin", "+refs/heads/\(branch):refs/remotes/origin/\(branch)"], in: workDirectory)
            _ = try await git.run(["checkout", "-q", "-B", branch, "origin/\(branch)"], in: workDirectory)
            _ = try await git.run(["reset", "-q", "--hard", "origin/\(branch)"], in: workDirectory)
            _ = try await git.run(["clean", "-q", "-fdx"], in: workDirectory)
        } else {
            _ = try await git.run(["checkout", "-q", "--orphan", "keel-ledger-new"], in: workDirectory)
            _ = try? await git.run(["rm", "-q", "-r", "--cached", "."], in: workDirectory)
            _ = try await git.run(["clean", "-q", "-fdx"], in: workDirectory)
            _ = try await git.run(["checkout", "-q", "-B", branch], in: workDirectory)
        }
    }

    func readHead() throws -> Head? {
        guard let data = FileManager.default.contents(atPath: path("ledger/head.json")) else { return nil }
        do {
            return try JSONDecoder().decode(Head.self, from: data)
        } catch {
            throw LedgerBackupError(.corrupt, "ledger/head.json in the backup \(remote) is not readable", cause: error)
        }
    }

    func append(_ events: [String], startingAt firstSeq: Int64) throws {
        var seq = firstSeq
        var pending: [Int64: String] = [:]
        for event in events {
            precondition(!event.contains("\n"), "an event text holds no newline: it is canonical JSON")
            pending[(seq - 1) / Self.eventsPerFile + 1, default: ""] += event + "\n"
            seq += 1
        }
        for (index, text) in pending.sorted(by: { $0.key < $1.key }) {
            let file = path(Self.chunk(index))
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            if let handle = FileHandle(forWritingAtPath: file) {
                defer { try? handle.close() }
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(text.utf8))
            } else {
                try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            }
        }
    }

    func write(_ data: Data, to relative: String) throws {
        let file = path(relative)
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: file), options: .atomic)
    }

    func path(_ relative: String) -> String { workDirectory + "/" + relative }

    static func chunk(_ index: Int64) -> String {
        let digits = String(index)
        return "ledger/events/" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits + ".jsonl"
    }
}

/// A backup that cannot be read or written, or that disagrees with the store.
public struct LedgerBackupError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// The backup holds more than the store, or other events up to its head: truncation or rollback.
        public static let ahead = Code(name: "ahead")
        /// The backup's files disagree with each other.
        public static let corrupt = Code(name: "corrupt")
        /// The push kept failing.
        public static let pushFailed = Code(name: "push_failed")
    }

    public var code: Code
    public var message: String
    public var backup: LedgerBackup.Head?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, backup: LedgerBackup.Head? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.backup = backup
        self.cause = cause
    }

    public var description: String { cause.map { "\(message) (\($0))" } ?? message }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
