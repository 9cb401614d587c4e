public import Foundation
public import KeelGit
import KeelLedger
public import KeelStore

/// What a command may do with the store file.
public enum StoreAccess: Sendable, Equatable {
    /// The command works on what is there (`status`, `cost`, `ledger ...`, `retry`): a missing
    /// store is an error, and nothing is created.
    case existing
    /// The command may start a store (`keel run`, `keel submit`, `keel demo`), unless the
    /// project shows it had one; `newStore` is `--new-store`, starting over on purpose.
    case create(newStore: Bool)
}

/// Whether to open the store, decided before anything is created: a store that lost its history
/// (deleted, moved, a wrong `store.sqlite`) is not silently replaced by an empty one, which would
/// say "0 events, intact" for a key that signed many and hand out item ids whose branches the
/// origin still holds.
///
/// ```swift
/// let decision = StoreOpening.decide(
///     access: .create(newStore: false), storeExists: false,
///     history: .init(keySigningSince: 1_764_000_000, itemBranches: []), paths: paths)
/// if case .refuse(let line) = decision { print(line) }
/// ```
public enum StoreOpening {
    /// Where things are, for the messages.
    public struct Paths: Sendable, Equatable {
        public var store: String
        public var key: String
        public var origin: String

        public init(store: String, key: String, origin: String) {
            self.store = store
            self.key = key
            self.origin = origin
        }
    }

    /// What shows that the project had a store: the signing key's record, the origin's branches.
    public struct History: Sendable, Equatable {
        /// When the signing key was first given to a store to sign (nil: never, or no key yet).
        public var keySigningSince: Int64?
        /// The origin's `keel/item-*` branches; nil when the origin could not be listed.
        public var itemBranches: [String]?
        /// Why the origin could not be listed.
        public var originProblem: String?

        public init(keySigningSince: Int64?, itemBranches: [String]?, originProblem: String? = nil) {
            self.keySigningSince = keySigningSince
            self.itemBranches = itemBranches
            self.originProblem = originProblem
        }
    }

    /// Open the store, or refuse with one line for a person.
    public enum Decision: Sendable, Equatable {
        case open
        case refuse(String)
    }

    /// Whether to gather ``History`` at all: only a missing store that may be created needs it.
    public static func needsHistory(access: StoreAccess, storeExists: Bool) -> Bool {
        !storeExists && access == .create(newStore: false)
    }

    /// The decision. `history` is read only when ``needsHistory(access:storeExists:)``.
    public static func decide(access: StoreAccess, storeExists: Bool, history: History?, paths: Paths) -> Decision {
        if storeExists { return .open }
        switch access {
        case .existing:
            return .refuse(
                "there is no Keel database at \(paths.store) (store.sqlite in keel.yml): nothing was submitted here yet, "
                    + "or the file was moved or deleted; start with `keel submit`, or put the database back")
        case .create(newStore: true):
            return .open
        case .create(newStore: false):
            guard let history else { return .open }
            var evidence: [String] = []
            if let since = history.keySigningSince {
                evidence.append("the signing key \(paths.key) has signed a ledger since \(Timestamp.text(Date(timeIntervalSince1970: TimeInterval(since))))")
            }
            if let branches = history.itemBranches, !branches.isEmpty {
                let shown = branches.prefix(3).joined(separator: ", ") + (branches.count > 3 ? " and \(branches.count - 3) more" : "")
                evidence.append("the origin \(paths.origin) has \(shown)")
            }
            if history.itemBranches == nil {
                evidence.append(
                    "the origin \(paths.origin) could not be listed to check for keel/item-* branches (\(history.originProblem ?? "unknown error"))")
            }
            guard !evidence.isEmpty else { return .open }
            return .refuse(
                "there is no Keel database at \(paths.store), but this project had one: \(evidence.joined(separator: "; ")). "
                    + "A new empty store would lose that history and reuse item ids. Put the database file back from a copy, "
                    + "or pass --new-store to start a new store on purpose (with ledger.backup configured, "
                    + "its ledger is restored from the backup)")
        }
    }

    /// Opens the store for `access`, creating it only when ``decide(access:storeExists:history:paths:)``
    /// allows, with the signing key recorded as signing before it can sign anything.
    public static func open(_ config: KeelConfig, access: StoreAccess, git: Git = Git(), now: Date = Date()) async throws -> SQLiteStore {
        let paths = Paths(store: config.store.sqlite, key: config.ledger.key, origin: config.forge.local.origin)
        let exists = FileManager.default.fileExists(atPath: paths.store)
        var history: History?
        if needsHistory(access: access, storeExists: exists) {
            let key = KeyFile(path: paths.key)
            history = History(keySigningSince: try key.signingSince(), itemBranches: nil)
            do {
                history?.itemBranches = try await git.remoteBranches(url: paths.origin, prefix: "keel/item-")
            } catch {
                history?.originProblem = "\(error)".split(separator: "\n").first.map(String.init) ?? "unknown error"
            }
        }
        if case .refuse(let line) = decide(access: access, storeExists: exists, history: history, paths: paths) {
            throw PipelineError(.storeMissing, line)
        }
        return try SQLiteStore(
            path: paths.store, ledger: try LedgerSetup.settings(config, now: now),
            redactor: config.redactor(environment: ProcessInfo.processInfo.environment))
    }
}
