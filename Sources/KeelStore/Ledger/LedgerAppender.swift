import Foundation
import GRDB
import KeelLedger

/// Appends stamps to `ledger_events` inside the caller's write transaction.
///
/// The head is read from the table in that transaction, never from memory: a process that
/// restarted, or a second process writing the same file, continues from the real head (the
/// field report's break was a restart that orphaned the first event after it). SQLite's write
/// lock serializes appenders, so the chain cannot fork.
enum LedgerAppender {
    struct Position {
        var seq: Int64
        var previousHash: String
        /// The previous stamp's timestamp: a clock that moved back must not make the chain's
        /// timestamps decrease (verifiers reject that), so a stamp is never dated before it.
        var notBefore: Int64 = 0
    }

    /// Appends a stamp of `kind` carrying `fields` (plus `event_type` and `seq`), checking the
    /// head first, and a checkpoint after it when one is due. Returns the stamp's seq.
    @discardableResult
    static func append(_ db: Database, _ settings: LedgerSettings, kind: String, fields: JSONObject, now: Date) throws -> Int64 {
        let position = try nextPosition(db, settings, now: now)
        let appended = try write(db, settings, at: position, kind: kind, fields: fields, now: now)
        try checkpointIfDue(db, settings, after: appended, now: now)
        return appended.seq - 1
    }

    /// Where the next stamp goes. When the head is damaged (unparseable, altered, out of place,
    /// foreign), the damage is recorded as a break and stamped, and the chain continues after it.
    ///
    /// - Throws: when this process's key is not the key the chain trusts now (a wrong or replaced
    ///   key file): everything it signed would be a break.
    static func nextPosition(_ db: Database, _ settings: LedgerSettings, now: Date) throws -> Position {
        let schedule = try keySchedule(db, settings)
        guard schedule.current == settings.signer.key else {
            throw StoreError(
                .unavailable,
                "the signing key \(settings.signer.agentID) is not the key this ledger trusts now (\(schedule.current.agentID), "
                    + "from the genesis key \(schedule.genesis.agentID) and the chain's signed rotations): restore the right key file; "
                    + "`keel ledger rotate-key` hands over to a new key under the old one's signature")
        }
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM ledger_events ORDER BY seq DESC LIMIT 1") else {
            return Position(seq: 1, previousHash: schedule.genesis.genesisHash)
        }
        let head = try SQLiteStore.decodeEvent(row)
        let previousStored = try String.fetchOne(db, sql: "SELECT hash FROM ledger_events WHERE seq = ?", arguments: [head.seq - 1])
        let (problems, continueFrom, headTimestamp) = headProblems(head, previousStoredHash: previousStored, signer: schedule.key(at: head.seq))
        var position = Position(seq: head.seq + 1, previousHash: continueFrom, notBefore: headTimestamp ?? 0)
        for problem in problems {
            position = try recordAndStamp(db, settings, problem, at: position, now: now).next
        }
        return position
    }

    /// The O(1) check of the head: it parses, every column says what its text says, it links to
    /// the event before it and the key trusted at its seq signed it.
    static func headProblems(
        _ head: LedgerEventRecord, previousStoredHash: String?, signer: AgentKey
    ) -> ([DetectedBreak], continueFrom: String, timestamp: Int64?) {
        let seq = head.seq
        let stamp: Stamp
        do {
            stamp = try Stamp.parse(head.event)
        } catch {
            return (
                [DetectedBreak(
                    seq: seq, kind: "torn_write", expected: "a complete AISS-1.0 event",
                    found: "\(head.event.utf8.count) bytes: \(head.event.prefix(60))…",
                    message: "the last event (seq \(seq)) is not a complete event: a write was torn or the row was edited")],
                head.hash, nil
            )
        }
        var problems = LedgerRowCheck.problems(head, stamp: stamp)
        if let previousStoredHash, stamp.previousHash != previousStoredHash {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "hash_mismatch", expected: previousStoredHash, found: stamp.previousHash,
                    message: "event \(seq) does not link to event \(seq - 1): an event was removed, replaced or reordered"))
        }
        if stamp.agentID != signer.agentID {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "unknown_key", expected: signer.agentID, found: stamp.agentID,
                    message: "event \(seq) is signed by \(stamp.agentID), not by \(signer.agentID), the key this ledger trusts there"))
        } else if !stamp.isSigned(by: signer) {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "bad_signature", expected: "a valid signature by \(signer.agentID)", found: stamp.signature,
                    message: "event \(seq) is not validly signed by this ledger's key: it was altered or forged"))
        }
        return (problems, stamp.hash, stamp.timestamp)
    }

    /// Records a break once and stamps `chain_break_detected` for it. "Once" is judged by the
    /// signed detection stamps (by fingerprint, which covers the bytes of the event it is in), never
    /// by the `ledger_breaks` rows, which anyone with the database file can write.
    static func recordAndStamp(
        _ db: Database, _ settings: LedgerSettings, _ found: DetectedBreak, at position: Position, now: Date
    ) throws -> (record: Int64?, next: Position) {
        var problem = found
        if problem.evidence == nil, let seq = problem.seq { problem.evidence = try evidence(db, at: seq) }
        let book = try breakBook(db, settings)
        guard !book.fingerprints.contains(problem.fingerprint) else { return (nil, position) }
        let cached = try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM ledger_breaks") ?? 0
        let id = max(book.maxID, cached) + 1
        let deadline = Date(timeIntervalSince1970: (now.addingTimeInterval(settings.decisionWindow).timeIntervalSince1970).rounded(.down))
        var fields: JSONObject = [
            "break_id": .integer(id), "kind": .string(problem.kind), "expected": .string(problem.expected),
            "found": .string(problem.found), "message": .string(problem.message),
            "deadline": .integer(Int64(deadline.timeIntervalSince1970)),
        ]
        if let seq = problem.seq { fields["at_seq"] = .integer(seq) }
        if let evidence = problem.evidence { fields["evidence"] = .string(evidence) }
        let next = try write(db, settings, at: position, kind: "chain_break_detected", fields: fields, now: now)
        try db.execute(sql: "DELETE FROM ledger_breaks WHERE fingerprint = ?", arguments: [problem.fingerprint])
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO ledger_breaks (id, seq, kind, expected, found, message, fingerprint, evidence, detected_at, deadline, detection_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                id, problem.seq, problem.kind, problem.expected, problem.found, problem.message, problem.fingerprint, problem.evidence,
                Timestamp.text(Date(timeIntervalSince1970: TimeInterval(next.notBefore))), Timestamp.text(deadline), position.seq,
            ])
        return (id, next)
    }

    /// The keys the chain trusts, from the settings' genesis key and the rotation stamps whose
    /// rows check out (found through the kind index; a row relabelled to hide one is a
    /// `column_mismatch` the full verify finds).
    static func keySchedule(_ db: Database, _ settings: LedgerSettings) throws -> KeySchedule {
        var schedule = KeySchedule(genesis: settings.genesis)
        for row in try Row.fetchAll(db, sql: "SELECT * FROM ledger_events WHERE kind = ? ORDER BY seq", arguments: [KeyRotation.eventType]) {
            let record = try SQLiteStore.decodeEvent(row)
            guard let stamp = try? Stamp.parse(record.event), LedgerRowCheck.problems(record, stamp: stamp).isEmpty else { continue }
            schedule.accept(stamp, at: record.seq)
        }
        return schedule
    }

    /// The breaks as the signed stamps record them: only stamps whose rows check out and that the
    /// key trusted at their seq signed count.
    static func breakBook(_ db: Database, _ settings: LedgerSettings) throws -> BreakBook {
        let schedule = try keySchedule(db, settings)
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM ledger_events WHERE kind IN (?, ?, ?) ORDER BY seq",
            arguments: StatementArguments(BreakBook.kinds))
        var stamps: [(seq: Int64, stamp: Stamp)] = []
        for row in rows {
            let record = try SQLiteStore.decodeEvent(row)
            guard let stamp = try? Stamp.parse(record.event), LedgerRowCheck.problems(record, stamp: stamp).isEmpty else { continue }
            let signer = schedule.key(at: record.seq)
            guard stamp.agentID == signer.agentID, stamp.isSigned(by: signer) else { continue }
            stamps.append((record.seq, stamp))
        }
        return BreakBook(stamps: stamps)
    }

    /// ``BreakEvidence`` of the event stored at `seq` as it is now (nil when there is none).
    static func evidence(_ db: Database, at seq: Int64) throws -> String? {
        try Row.fetchOne(db, sql: "SELECT hash, event FROM ledger_events WHERE seq = ?", arguments: [seq]).map { row in
            BreakEvidence.digest(storedHash: row["hash"], text: row["event"])
        }
    }

    /// Signs and inserts one stamp at `position`; returns the position after it.
    static func write(_ db: Database, _ settings: LedgerSettings, at position: Position, kind: String, fields: JSONObject, now: Date) throws -> Position {
        var payload = fields
        payload["event_type"] = .string(kind)
        payload["seq"] = .integer(position.seq)
        let timestamp = max(Int64(now.timeIntervalSince1970), position.notBefore)
        let stamp = try Stamper.stamp(
            payload: payload, previousHash: position.previousHash, signer: settings.signer, timestamp: timestamp, nonce: UUID())
        try db.execute(
            sql: "INSERT INTO ledger_events (seq, event, hash, kind, subject, at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [
                position.seq, stamp.text, stamp.hash, kind, LedgerRowCheck.subject(kind: kind, payload: stamp.payload),
                Timestamp.text(LedgerRowCheck.at(stamp)),
            ])
        return Position(seq: position.seq + 1, previousHash: stamp.hash, notBefore: timestamp)
    }

    /// A signed checkpoint (size and head hash) every `checkpointEvery` events or `checkpointSeconds`.
    static func checkpointIfDue(_ db: Database, _ settings: LedgerSettings, after position: Position, now: Date) throws {
        let last = try Row.fetchOne(db, sql: "SELECT seq, at FROM ledger_events WHERE kind = 'checkpoint' ORDER BY seq DESC LIMIT 1")
        let lastSeq: Int64 = last?["seq"] ?? 0
        let lastAt = (last?["at"] as String?).flatMap(Timestamp.date)
        let sinceLast = position.seq - 1 - lastSeq
        guard sinceLast > 0 else { return }
        let due = sinceLast >= settings.checkpointEvery || lastAt.map { now.timeIntervalSince($0) >= settings.checkpointSeconds } ?? false
        guard due else { return }
        let payload = Checkpoint.payload(seq: position.seq, size: position.seq - 1, headHash: position.previousHash)
        var fields = payload
        fields["event_type"] = nil
        fields["seq"] = nil
        _ = try write(db, settings, at: position, kind: Checkpoint.eventType, fields: fields, now: now)
    }
}

/// Payload builders: every value an integer or a string, keys ASCII (Keel's payload rules).
enum LedgerPayload {
    static func unix(_ date: Date) -> JSONValue { .integer(Int64(date.timeIntervalSince1970)) }
    static func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    static func int(_ n: (some BinaryInteger)?) -> JSONValue { n.map { .integer(Int64($0)) } ?? .null }
}
