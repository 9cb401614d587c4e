public import Foundation
public import KeelCore
import GRDB
import Synchronization
public import KeelLedger

/// The ledger side of the store: reading the chain, recording breaks, and a person's decisions.
public protocol LedgerStore: Sendable {
    var ledger: LedgerSettings? { get }
    func ledgerCount() async throws -> Int64
    /// Events with seq greater than `seq`, in order, at most `limit`.
    func ledgerEvents(after seq: Int64, limit: Int?) async throws -> [LedgerEventRecord]
    /// The newest checkpoint stamp (found by its `kind` column: for display; verification uses
    /// ``ledgerResumePoint()``).
    func lastCheckpoint() async throws -> LedgerEventRecord?
    /// Where startup verification may resume: the last checkpoint that is verified, not found
    /// (see ``ResumePoint``); nil means verify everything.
    func ledgerResumePoint() async throws -> ResumePoint?
    /// The keys the chain trusts, from the genesis key and its signed rotations.
    func ledgerKeySchedule() async throws -> KeySchedule
    /// Every event of one kind, in order (indexed: cheap however long the ledger is).
    func ledgerEvents(ofKind kind: String) async throws -> [LedgerEventRecord]
    func ledgerBreaks() async throws -> [LedgerBreakRecord]
    func ledgerBreak(_ id: Int64) async throws -> LedgerBreakRecord?
    /// Records breaks a verifier found; each new one (by fingerprint, against the signed detection
    /// stamps) is stamped `chain_break_detected`. First checks the `ledger_breaks` rows against
    /// the stamps (a row the stamps do not back is a break too) and rebuilds them from the stamps.
    /// Returns the new ones.
    func recordBreaks(_ found: [DetectedBreak], now: Date) async throws -> [LedgerBreakRecord]
    /// A person's decision, stamped `chain_break_resolution`; one per break.
    func resolveBreak(_ id: Int64, decision: BreakDecision, by: String, note: String?, now: Date) async throws -> LedgerBreakRecord
    /// Stamps `timeout_no_action` for every undecided break past its deadline, exactly once each.
    func stampTimeouts(now: Date) async throws -> [LedgerBreakRecord]
    func markAlerted(_ ids: [Int64], now: Date) async throws
    /// Stamps the hand-over to `next` (signed by the current key) and signs with `next` from then on.
    func rotateKey(to next: SigningIdentity, now: Date) async throws
    /// Fills an empty ledger from a backup: the events as they are, and the breaks with their decisions
    /// (then, with a ledger, a signed `ledger_restored` stamp: see ``StampCoverage``).
    func importLedger(events: [String], breaks: [LedgerBreakRecord], now: Date) async throws
    /// The status over all breaks, as `keel ledger status` reports it.
    func ledgerStatus(now: Date) async throws -> LedgerStatus
    /// Business rows without their stamp, stamps without their row, and rows that differ from their stamp.
    func stampCoverageProblems(besides chainBreaks: [DetectedBreak]) async throws -> [DetectedBreak]
}

extension SQLiteStore: LedgerStore {
    public func ledgerCount() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger_events") ?? 0 }
    }

    public func ledgerEvents(after seq: Int64, limit: Int?) async throws -> [LedgerEventRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM ledger_events WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, limit ?? -1]
            ).map(Self.decodeEvent)
        }
    }

    public func lastCheckpoint() async throws -> LedgerEventRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM ledger_events WHERE kind = 'checkpoint' ORDER BY seq DESC LIMIT 1").map(Self.decodeEvent)
        }
    }

    public func ledgerEvents(ofKind kind: String) async throws -> [LedgerEventRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ledger_events WHERE kind = ? ORDER BY seq", arguments: [kind]).map(Self.decodeEvent)
        }
    }

    public func ledgerResumePoint() async throws -> ResumePoint? {
        let ledger = try requireLedger()
        return try await pool.read { db in try ResumePoint.find(db, ledger) }
    }

    public func ledgerKeySchedule() async throws -> KeySchedule {
        let ledger = try requireLedger()
        return try await pool.read { db in try LedgerAppender.keySchedule(db, ledger) }
    }

    /// Every break as its signed stamps record it, with when it was alerted (from `ledger_breaks`).
    /// A store opened without a ledger key has nothing to check the rows against: it reads them.
    public func ledgerBreaks() async throws -> [LedgerBreakRecord] {
        let ledger = self.ledger
        return try await pool.read { db in try Self.stampedBreaks(db, ledger) }
    }

    public func ledgerBreak(_ id: Int64) async throws -> LedgerBreakRecord? {
        try await ledgerBreaks().first { $0.id == id }
    }

    static func stampedBreaks(_ db: Database, _ ledger: LedgerSettings?) throws -> [LedgerBreakRecord] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM ledger_breaks ORDER BY id").map(Self.decodeBreak)
        guard let ledger else { return rows }
        var alerted: [Int64: Date] = [:]
        for row in rows { alerted[row.id] = row.alertedAt }
        return try LedgerAppender.breakBook(db, ledger).ordered.map { stamped in
            var record = stamped
            record.alertedAt = alerted[stamped.id]
            return record
        }
    }

    public func recordBreaks(_ found: [DetectedBreak], now: Date) async throws -> [LedgerBreakRecord] {
        let ledger = try requireLedger()
        return try await pool.write { db in
            var problems = found
            let book = try LedgerAppender.breakBook(db, ledger)
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM ledger_breaks ORDER BY id").map(Self.decodeBreak)
            let mismatches = book.cacheProblems(rows)
            if !mismatches.isEmpty {
                try Self.rebuildBreakRows(db, from: book, keepingAlerts: rows)
                problems += mismatches
            }
            problems += book.problems
            var position = try LedgerAppender.nextPosition(db, ledger, now: now)
            var created: [Int64] = []
            for problem in problems {
                let (id, next) = try LedgerAppender.recordAndStamp(db, ledger, problem, at: position, now: now)
                position = next
                if let id { created.append(id) }
            }
            return try created.compactMap { try Row.fetchOne(db, sql: "SELECT * FROM ledger_breaks WHERE id = ?", arguments: [$0]) }
                .map(Self.decodeBreak)
        }
    }

    public func resolveBreak(_ id: Int64, decision: BreakDecision, by: String, note: String?, now: Date) async throws -> LedgerBreakRecord {
        let ledger = try requireLedger()
        let person = by.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !person.isEmpty else {
            throw StoreError(.invalidDecision, "a decision names who made it: pass --by NAME")
        }
        return try await pool.write { db in
            // Whether the break exists and is still undecided is what its signed stamps say.
            guard let existing = try LedgerAppender.breakBook(db, ledger).breaks[id] else {
                throw StoreError(.breakNotFound, "no break #\(id) is stamped in the ledger: `keel ledger status` lists the breaks")
            }
            if let decided = existing.decision {
                throw StoreError(
                    .invalidDecision,
                    "break #\(id) was already decided (\(decided) by \(existing.decidedBy ?? "?")); a break takes one decision")
            }
            let seq = try LedgerAppender.append(
                db, ledger, kind: "chain_break_resolution",
                fields: [
                    "break_id": .integer(id), "decision": .string(decision.rawValue), "decided_by": .string(person),
                    "note": LedgerPayload.text(note), "detection_seq": LedgerPayload.int(existing.detectionSeq),
                ],
                now: now)
            let stamped = try LedgerAppender.breakBook(db, ledger)
            try Self.rebuildBreakRows(db, from: stamped, keepingAlerts: try Row.fetchAll(db, sql: "SELECT * FROM ledger_breaks").map(Self.decodeBreak))
            guard let record = stamped.breaks[id], record.resolutionSeq == seq else {
                throw StoreError(.invalidDecision, "the decision on break #\(id) was stamped at seq \(seq) but does not read back from the ledger")
            }
            return record
        }
    }

    public func stampTimeouts(now: Date) async throws -> [LedgerBreakRecord] {
        let ledger = try requireLedger()
        // Only look with a write lock when the stamps say something is due.
        let due = try await pool.read { db in try Self.dueTimeouts(db, ledger, now: now) }
        guard !due.isEmpty else { return [] }
        return try await pool.write { db in
            // Re-read under the write lock: another process may have stamped them meanwhile.
            var stamped: [LedgerBreakRecord] = []
            for record in try Self.dueTimeouts(db, ledger, now: now) {
                let seq = try LedgerAppender.append(
                    db, ledger, kind: "timeout_no_action",
                    fields: [
                        "break_id": .integer(record.id), "deadline": LedgerPayload.unix(record.deadline),
                        "detection_seq": LedgerPayload.int(record.detectionSeq), "status": .string(LedgerStatus.brokenDeclared.rawValue),
                    ],
                    now: now)
                try db.execute(sql: "UPDATE ledger_breaks SET timeout_seq = ? WHERE id = ?", arguments: [seq, record.id])
                var updated = record
                updated.timeoutSeq = seq
                stamped.append(updated)
            }
            return stamped
        }
    }

    /// The stamped breaks that are undecided, not timed out and past their stamped deadline.
    static func dueTimeouts(_ db: Database, _ ledger: LedgerSettings, now: Date) throws -> [LedgerBreakRecord] {
        try LedgerAppender.breakBook(db, ledger).ordered.filter { $0.decision == nil && $0.timeoutSeq == nil && $0.deadline <= now }
    }

    /// Replaces every `ledger_breaks` row with what the stamps say (keeping when each was alerted).
    static func rebuildBreakRows(_ db: Database, from book: BreakBook, keepingAlerts rows: [LedgerBreakRecord]) throws {
        var alerted: [Int64: Date] = [:]
        for row in rows { alerted[row.id] = row.alertedAt }
        try db.execute(sql: "DELETE FROM ledger_breaks")
        for b in book.ordered {
            try insertBreakRow(db, b, alertedAt: alerted[b.id])
        }
    }

    static func insertBreakRow(_ db: Database, _ b: LedgerBreakRecord, alertedAt: Date?) throws {
        let fingerprint = DetectedBreak.fingerprint(kind: b.kind, seq: b.seq, expected: b.expected, found: b.found, evidence: b.evidence)
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO ledger_breaks (id, seq, kind, expected, found, message, fingerprint, evidence, detected_at,
                    deadline, detection_seq, decision, decided_by, decided_at, note, resolution_seq, timeout_seq, alerted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                b.id, b.seq, b.kind, b.expected, b.found, b.message, fingerprint, b.evidence, Timestamp.text(b.detectedAt),
                Timestamp.text(b.deadline), b.detectionSeq, b.decision, b.decidedBy, b.decidedAt.map(Timestamp.text), b.note,
                b.resolutionSeq, b.timeoutSeq, alertedAt.map(Timestamp.text),
            ])
    }

    public func markAlerted(_ ids: [Int64], now: Date) async throws {
        guard !ids.isEmpty else { return }
        try await pool.write { db in
            for id in ids {
                try db.execute(sql: "UPDATE ledger_breaks SET alerted_at = ? WHERE id = ? AND alerted_at IS NULL", arguments: [Timestamp.text(now), id])
            }
        }
    }

    public func rotateKey(to next: SigningIdentity, now: Date) async throws {
        let current = try requireLedger()
        try await pool.write { db in
            let rotation = KeyRotation(previous: current.signer.key, next: next.key, rotationTimestamp: Int64(now.timeIntervalSince1970))
            var fields = rotation.payload(seq: 0)
            fields["event_type"] = nil
            fields["seq"] = nil
            try LedgerAppender.append(db, current, kind: KeyRotation.eventType, fields: fields, now: now)
        }
        ledgerState.withLock { settings in settings?.signer = next }
    }

    public func importLedger(events: [String], breaks: [LedgerBreakRecord], now: Date) async throws {
        let ledger = self.ledger
        try await pool.write { db in
            guard try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger_events") == 0 else {
                throw StoreError(.ledgerNotEmpty, "the ledger already holds events: a backup is only restored into an empty store")
            }
            for (index, text) in events.enumerated() {
                let seq = Int64(index + 1)
                // Keep the text exactly as backed up, even when it is damaged: verification will flag it.
                let stamp = try? Stamp.parse(text)
                try db.execute(
                    sql: "INSERT INTO ledger_events (seq, event, hash, kind, subject, at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [
                        seq, text, stamp?.hash ?? String(repeating: "0", count: 64), stamp?.eventType ?? "unreadable",
                        stamp.flatMap { LedgerRowCheck.subject(kind: $0.eventType, payload: $0.payload) },
                        Timestamp.text(stamp.map(LedgerRowCheck.at) ?? Date(timeIntervalSince1970: 0)),
                    ])
            }
            // The decisions are the restored stamps; the backed-up rows give only when each was alerted.
            if let ledger {
                try Self.rebuildBreakRows(db, from: try LedgerAppender.breakBook(db, ledger), keepingAlerts: breaks)
            } else {
                for b in breaks { try Self.insertBreakRow(db, b, alertedAt: b.alertedAt) }
            }
            try Self.stampRestore(db, ledger, events: events.count, now: now)
        }
    }

    /// The status from the signed stamps (a `ledger_breaks` row cannot make the ledger valid).
    public func ledgerStatus(now: Date) async throws -> LedgerStatus {
        let breaks = try await ledgerBreaks()
        return LedgerPolicy.status(
            of: breaks.map {
                BreakState(id: $0.id, deadline: $0.deadline, decision: $0.decision.flatMap(BreakDecision.init), timedOut: $0.timeoutSeq != nil)
            }, now: now)
    }

    func requireLedger() throws -> LedgerSettings {
        guard let ledger else {
            throw StoreError(.unavailable, "this store was opened without a ledger signing key; open it with the ledger settings of keel.yml")
        }
        return ledger
    }

    static func decodeEvent(_ row: Row) throws -> LedgerEventRecord {
        LedgerEventRecord(
            seq: row["seq"], event: row["event"], hash: row["hash"], kind: row["kind"], subject: row["subject"],
            at: try date(row, "at", table: "ledger_events"))
    }

    static func decodeBreak(_ row: Row) throws -> LedgerBreakRecord {
        LedgerBreakRecord(
            id: row["id"], seq: row["seq"], kind: row["kind"], expected: row["expected"], found: row["found"], message: row["message"],
            detectedAt: try date(row, "detected_at", table: "ledger_breaks"), deadline: try date(row, "deadline", table: "ledger_breaks"),
            detectionSeq: row["detection_seq"], decision: row["decision"], decidedBy: row["decided_by"],
            decidedAt: try optionalDate(row, "decided_at", table: "ledger_breaks"), note: row["note"], resolutionSeq: row["resolution_seq"],
            timeoutSeq: row["timeout_seq"], alertedAt: try optionalDate(row, "alerted_at", table: "ledger_breaks"), evidence: row["evidence"])
    }
}

/// What a store file's ledger holds, read before the store is opened to sign (see
/// ``SQLiteStore/ledgerSummary(atPath:)``).
public struct LedgerSummary: Sendable, Equatable {
    /// How many events.
    public var count: Int64
    /// The first event's text, when there is one.
    public var first: String?
}

extension SQLiteStore {
    /// The ledger in the database file at `path`, only read (nil when there is no file; a store
    /// not yet migrated to a ledger reads as empty). Keel reads it before loading or creating the
    /// signing key: a ledger with events is never given a new key.
    public static func ledgerSummary(atPath path: String) throws -> LedgerSummary? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var config = Configuration()
        // Not `readonly`: SQLite cannot open a WAL database read-only before its -shm file exists.
        config.busyMode = .timeout(30)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            return try queue.read { db in
                guard try db.tableExists("ledger_events") else { return LedgerSummary(count: 0, first: nil) }
                return LedgerSummary(
                    count: try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM ledger_events") ?? 0,
                    first: try String.fetchOne(db, sql: "SELECT event FROM ledger_events ORDER BY seq LIMIT 1"))
            }
        } catch {
            throw StoreError(
                .unavailable, "cannot read the ledger in \(path): check that the file is a Keel SQLite database", underlying: error)
        }
    }
}
