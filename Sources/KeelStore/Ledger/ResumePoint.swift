import GRDB
public import KeelLedger

/// Where startup verification resumes: the last checkpoint stamp that is verified, not merely
/// found. A row counts only when its text parses as a checkpoint, every column says what its text
/// says, the key trusted at its seq signed it, its `size` is the number of events before it, and
/// its `head_hash` is the hash of the event before it, as that event's text and stored hash both
/// say. (Whether every row before it is still there is the full verify's to check: counting them
/// would make startup grow with the ledger.) A row relabelled `checkpoint`, a checkpoint signed by
/// a key the chain never trusted, or one whose prefix was cut or replaced, is passed over; with
/// none left, everything is verified.
///
/// ```swift
/// if let point = try await store.ledgerResumePoint() {
///     report = await verifier.verify(texts: eventsAfter(point.seq), from: point.checkpoint)
/// }
/// ```
public struct ResumePoint: Sendable, Equatable {
    /// The checkpoint stamp's seq.
    public var seq: Int64
    /// Its position for ``ChainVerifier/verify(texts:from:)`` (index `seq - 1`).
    public var checkpoint: Checkpoint

    /// How many of the newest checkpoint rows are tried before verifying everything.
    static let candidates = 8

    static func find(_ db: Database, _ ledger: LedgerSettings) throws -> ResumePoint? {
        let schedule = try LedgerAppender.keySchedule(db, ledger)
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM ledger_events WHERE kind = ? ORDER BY seq DESC LIMIT ?", arguments: [Checkpoint.eventType, candidates])
        for row in rows {
            if let point = try verified(db, try SQLiteStore.decodeEvent(row), schedule: schedule) { return point }
        }
        return nil
    }

    static func verified(_ db: Database, _ row: LedgerEventRecord, schedule: KeySchedule) throws -> ResumePoint? {
        guard let stamp = try? Stamp.parse(row.event), LedgerRowCheck.problems(row, stamp: stamp).isEmpty,
            let record = Checkpoint.Record(payload: stamp.payload), record.size == row.seq - 1, record.headHash == stamp.previousHash
        else { return nil }
        let signer = schedule.key(at: row.seq)
        guard stamp.agentID == signer.agentID, stamp.isSigned(by: signer) else { return nil }
        if row.seq == 1 {
            guard record.headHash == schedule.genesis.genesisHash else { return nil }
        } else {
            guard let previousRow = try Row.fetchOne(db, sql: "SELECT * FROM ledger_events WHERE seq = ?", arguments: [row.seq - 1]) else { return nil }
            let previous = try SQLiteStore.decodeEvent(previousRow)
            guard previous.hash == record.headHash, let previousStamp = try? Stamp.parse(previous.event), previousStamp.hash == record.headHash
            else { return nil }
        }
        return ResumePoint(seq: row.seq, checkpoint: Checkpoint(trusting: stamp, at: Int(row.seq - 1), signer: signer))
    }
}
