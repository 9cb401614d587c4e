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
    static func append(
        _ db: Database, _ settings: LedgerSettings, kind: String, subject: String?, fields: JSONObject, now: Date
    ) throws -> Int64 {
        let position = try nextPosition(db, settings, now: now)
        let appended = try write(db, settings, at: position, kind: kind, subject: subject, fields: fields, now: now)
        try checkpointIfDue(db, settings, after: appended, now: now)
        return appended.seq - 1
    }

    /// Where the next stamp goes. When the head is damaged (unparseable, altered, out of place,
    /// foreign), the damage is recorded as a break and stamped, and the chain continues after it.
    static func nextPosition(_ db: Database, _ settings: LedgerSettings, now: Date) throws -> Position {
        guard let head = try Row.fetchOne(db, sql: "SELECT seq, event, hash FROM ledger_events ORDER BY seq DESC LIMIT 1") else {
            return Position(seq: 1, previousHash: settings.signer.key.genesisHash)
        }
        let seq: Int64 = head["seq"]
        let stored: String = head["hash"]
        let text: String = head["event"]
        let previousStored = try String.fetchOne(db, sql: "SELECT hash FROM ledger_events WHERE seq = ?", arguments: [seq - 1])
        let (problems, continueFrom, headTimestamp) = headProblems(
            seq: seq, text: text, storedHash: stored, previousStoredHash: previousStored, settings: settings)
        var position = Position(seq: seq + 1, previousHash: continueFrom, notBefore: headTimestamp ?? 0)
        for problem in problems {
            position = try recordAndStamp(db, settings, problem, at: position, now: now).next
        }
        return position
    }

    /// The O(1) check of the head: it parses, hashes to its stored hash, carries its seq, links to
    /// the event before it and is signed by a key the chain knows.
    static func headProblems(
        seq: Int64, text: String, storedHash: String, previousStoredHash: String?, settings: LedgerSettings
    ) -> ([DetectedBreak], continueFrom: String, timestamp: Int64?) {
        let stamp: Stamp
        do {
            stamp = try Stamp.parse(text)
        } catch {
            return (
                [DetectedBreak(
                    seq: seq, kind: "torn_write", expected: "a complete AISS-1.0 event",
                    found: "\(text.utf8.count) bytes: \(text.prefix(60))…",
                    message: "the last event (seq \(seq)) is not a complete event: a write was torn or the row was edited")],
                storedHash, nil
            )
        }
        var problems: [DetectedBreak] = []
        if stamp.hash != storedHash {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "hash_mismatch", expected: storedHash, found: stamp.hash,
                    message: "event \(seq) does not hash to the hash stored with it: its text was changed after it was written"))
        }
        if stamp.seq != seq {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "seq_gap", expected: String(seq), found: stamp.seq.map(String.init) ?? "none",
                    message: "the event stored at seq \(seq) carries payload.seq \(stamp.seq.map(String.init) ?? "none")"))
        }
        if let previousStoredHash, stamp.previousHash != previousStoredHash {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "hash_mismatch", expected: previousStoredHash, found: stamp.previousHash,
                    message: "event \(seq) does not link to event \(seq - 1): an event was removed, replaced or reordered"))
        }
        let signer = settings.signer.key
        let handsOverToUs =
            stamp.eventType == KeyRotation.eventType && stamp.payload["new_agent_id"]?.stringValue == signer.agentID
        if stamp.agentID == signer.agentID {
            if !stamp.isSigned(by: signer) {
                problems.append(
                    DetectedBreak(
                        seq: seq, kind: "bad_signature", expected: "a valid signature by \(signer.agentID)", found: stamp.signature,
                        message: "event \(seq) is not validly signed by this ledger's key: it was altered or forged"))
            }
        } else if !handsOverToUs {
            problems.append(
                DetectedBreak(
                    seq: seq, kind: "unknown_key", expected: signer.agentID, found: stamp.agentID,
                    message: "event \(seq) is signed by \(stamp.agentID), a key this ledger does not use"))
        }
        return (problems, stamp.hash, stamp.timestamp)
    }

    /// Records a break once (by fingerprint, which covers the bytes of the event it is in) and,
    /// when it is new, stamps `chain_break_detected`.
    static func recordAndStamp(
        _ db: Database, _ settings: LedgerSettings, _ found: DetectedBreak, at position: Position, now: Date
    ) throws -> (record: Int64?, next: Position) {
        var problem = found
        if problem.evidence == nil, let seq = problem.seq { problem.evidence = try evidence(db, at: seq) }
        let deadline = now.addingTimeInterval(settings.decisionWindow)
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO ledger_breaks (seq, kind, expected, found, message, fingerprint, evidence, detected_at, deadline)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                problem.seq, problem.kind, problem.expected, problem.found, problem.message, problem.fingerprint, problem.evidence,
                Timestamp.text(now), Timestamp.text(deadline),
            ])
        guard db.changesCount == 1 else { return (nil, position) }
        let id = db.lastInsertedRowID
        var fields: JSONObject = [
            "break_id": .integer(id), "kind": .string(problem.kind), "expected": .string(problem.expected),
            "found": .string(problem.found), "message": .string(problem.message),
            "deadline": .integer(Int64(deadline.timeIntervalSince1970)),
        ]
        if let seq = problem.seq { fields["at_seq"] = .integer(seq) }
        if let evidence = problem.evidence { fields["evidence"] = .string(evidence) }
        let next = try write(db, settings, at: position, kind: "chain_break_detected", subject: "break:\(id)", fields: fields, now: now)
        try db.execute(sql: "UPDATE ledger_breaks SET detection_seq = ? WHERE id = ?", arguments: [position.seq, id])
        return (id, next)
    }

    /// ``BreakEvidence`` of the event stored at `seq` as it is now (nil when there is none).
    static func evidence(_ db: Database, at seq: Int64) throws -> String? {
        try Row.fetchOne(db, sql: "SELECT hash, event FROM ledger_events WHERE seq = ?", arguments: [seq]).map { row in
            BreakEvidence.digest(storedHash: row["hash"], text: row["event"])
        }
    }

    /// Signs and inserts one stamp at `position`; returns the position after it.
    static func write(
        _ db: Database, _ settings: LedgerSettings, at position: Position, kind: String, subject: String?, fields: JSONObject, now: Date
    ) throws -> Position {
        var payload = fields
        payload["event_type"] = .string(kind)
        payload["seq"] = .integer(position.seq)
        let timestamp = max(Int64(now.timeIntervalSince1970), position.notBefore)
        let stamp = try Stamper.stamp(
            payload: payload, previousHash: position.previousHash, signer: settings.signer, timestamp: timestamp, nonce: UUID())
        try db.execute(
            sql: "INSERT INTO ledger_events (seq, event, hash, kind, subject, at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [position.seq, stamp.text, stamp.hash, kind, subject, Timestamp.text(now)])
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
        _ = try write(db, settings, at: position, kind: Checkpoint.eventType, subject: nil, fields: fields, now: now)
    }
}

/// Payload builders: every value an integer or a string, keys ASCII (Keel's payload rules).
enum LedgerPayload {
    static func unix(_ date: Date) -> JSONValue { .integer(Int64(date.timeIntervalSince1970)) }
    static func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    static func int(_ n: (some BinaryInteger)?) -> JSONValue { n.map { .integer(Int64($0)) } ?? .null }
}
