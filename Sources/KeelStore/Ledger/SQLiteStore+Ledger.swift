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
    /// The newest checkpoint stamp.
    func lastCheckpoint() async throws -> LedgerEventRecord?
    /// Every event of one kind, in order (indexed: cheap however long the ledger is).
    func ledgerEvents(ofKind kind: String) async throws -> [LedgerEventRecord]
    func ledgerBreaks() async throws -> [LedgerBreakRecord]
    func ledgerBreak(_ id: Int64) async throws -> LedgerBreakRecord?
    /// Records breaks a verifier found; each new one (by fingerprint) is stamped `chain_break_detected`.
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

    public func ledgerBreaks() async throws -> [LedgerBreakRecord] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM ledger_breaks ORDER BY id").map(Self.decodeBreak) }
    }

    public func ledgerBreak(_ id: Int64) async throws -> LedgerBreakRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM ledger_breaks WHERE id = ?", arguments: [id]).map(Self.decodeBreak)
        }
    }

    public func recordBreaks(_ found: [DetectedBreak], now: Date) async throws -> [LedgerBreakRecord] {
        let ledger = try requireLedger()
        return try await pool.write { db in
            var position = try LedgerAppender.nextPosition(db, ledger, now: now)
            var created: [Int64] = []
            for problem in found {
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
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM ledger_breaks WHERE id = ?", arguments: [id]) else {
                throw StoreError(.breakNotFound, "no break #\(id): `keel ledger status` lists the breaks")
            }
            let existing = try Self.decodeBreak(row)
            if let decided = existing.decision {
                throw StoreError(
                    .invalidDecision,
                    "break #\(id) was already decided (\(decided) by \(existing.decidedBy ?? "?")); a break takes one decision")
            }
            let seq = try LedgerAppender.append(
                db, ledger, kind: "chain_break_resolution", subject: "break:\(id)",
                fields: [
                    "break_id": .integer(id), "decision": .string(decision.rawValue), "decided_by": .string(person),
                    "note": LedgerPayload.text(note), "detection_seq": LedgerPayload.int(existing.detectionSeq),
                ],
                now: now)
            try db.execute(
                sql: "UPDATE ledger_breaks SET decision = ?, decided_by = ?, decided_at = ?, note = ?, resolution_seq = ? WHERE id = ?",
                arguments: [decision.rawValue, person, Timestamp.text(now), note, seq, id])
            return try Self.decodeBreak(try Row.fetchOne(db, sql: "SELECT * FROM ledger_breaks WHERE id = ?", arguments: [id])!)
        }
    }

    public func stampTimeouts(now: Date) async throws -> [LedgerBreakRecord] {
        let ledger = try requireLedger()
        let ts = Timestamp.text(now)
        // Only look with a write lock when there is something to stamp.
        let due = try await pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT COUNT(*) FROM ledger_breaks WHERE decision IS NULL AND timeout_seq IS NULL AND deadline <= ?", arguments: [ts])
        }
        guard (due ?? 0) > 0 else { return [] }
        return try await pool.write { db in
            // Re-read under the write lock: another process may have stamped them meanwhile.
            let ids = try Int64.fetchAll(
                db, sql: "SELECT id FROM ledger_breaks WHERE decision IS NULL AND timeout_seq IS NULL AND deadline <= ? ORDER BY id",
                arguments: [ts])
            var stamped: [LedgerBreakRecord] = []
            for id in ids {
                let record = try Self.decodeBreak(try Row.fetchOne(db, sql: "SELECT * FROM ledger_breaks WHERE id = ?", arguments: [id])!)
                let seq = try LedgerAppender.append(
                    db, ledger, kind: "timeout_no_action", subject: "break:\(id)",
                    fields: [
                        "break_id": .integer(id), "deadline": LedgerPayload.unix(record.deadline),
                        "detection_seq": LedgerPayload.int(record.detectionSeq), "status": .string(LedgerStatus.brokenDeclared.rawValue),
                    ],
                    now: now)
                try db.execute(sql: "UPDATE ledger_breaks SET timeout_seq = ? WHERE id = ?", arguments: [seq, id])
                var updated = record
                updated.timeoutSeq = seq
                stamped.append(updated)
            }
            return stamped
        }
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
            try LedgerAppender.append(db, current, kind: KeyRotation.eventType, subject: nil, fields: fields, now: now)
        }
        ledgerState.withLock { settings in settings?.signer = next }
    }

    public func importLedger(events: [String], breaks: [LedgerBreakRecord], now: Date) async throws {
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
                        seq, text, stamp?.hash ?? String(repeating: "0", count: 64), stamp?.eventType ?? "unreadable", nil,
                        Timestamp.text(stamp.map { Date(timeIntervalSince1970: TimeInterval($0.timestamp)) } ?? Date(timeIntervalSince1970: 0)),
                    ])
            }
            for b in breaks {
                // A backup written before breaks carried their evidence: the events as backed up
                // are what the decisions were made on, as far as anyone can know now.
                let evidence = try b.evidence ?? b.seq.flatMap { try LedgerAppender.evidence(db, at: $0) }
                let detected = DetectedBreak(seq: b.seq, kind: b.kind, expected: b.expected, found: b.found, message: b.message, evidence: evidence)
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO ledger_breaks (id, seq, kind, expected, found, message, fingerprint, evidence, detected_at,
                            deadline, detection_seq, decision, decided_by, decided_at, note, resolution_seq, timeout_seq, alerted_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        b.id, b.seq, b.kind, b.expected, b.found, b.message, detected.fingerprint, evidence, Timestamp.text(b.detectedAt),
                        Timestamp.text(b.deadline), b.detectionSeq, b.decision, b.decidedBy, b.decidedAt.map(Timestamp.text), b.note,
                        b.resolutionSeq, b.timeoutSeq, b.alertedAt.map(Timestamp.text),
                    ])
            }
            try Self.stampRestore(db, ledger, events: events.count, now: now)
        }
    }

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
