public import Foundation
import GRDB
import KeelLedger

/// The events of an export, up to and including the signed checkpoint that seals them.
public struct SealedExport: Sendable {
    /// Every event from the chain's start through ``seal``, in order: an exact prefix of the ledger.
    public var events: [LedgerEventRecord]
    /// The export checkpoint the events end with.
    public var seal: LedgerEventRecord
    /// The number of events before the seal, as it signed.
    public var size: Int64
    /// True when the ledger's head already sealed an export and no new stamp was written.
    public var reused: Bool

    /// An export from its parts.
    public init(events: [LedgerEventRecord], seal: LedgerEventRecord, size: Int64, reused: Bool) {
        self.events = events
        self.seal = seal
        self.size = size
        self.reused = reused
    }
}

extension SQLiteStore {
    /// Stamps a `checkpoint` scoped to an export (``ExportSeal``) at the head of the ledger, unless
    /// the head already is one, and reads every event up to it, in one write transaction: what is
    /// exported is exactly the chain the seal signed, even while another process appends.
    ///
    /// The seal is appended to the ledger, not only written into the export: a stamp outside the
    /// chain would fork it.
    ///
    /// ```swift
    /// let export = try await store.sealExport(now: Date())
    /// print("sealed by seq \(export.seal.seq): \(export.size) events before it")
    /// ```
    public func sealExport(now: Date) async throws -> SealedExport {
        let ledger = try requireLedger()
        return try await pool.write { db in
            // The appender's O(1) head check: damage at the head is stamped as a break first, and
            // the seal (or the decision to reuse the head) comes after it. The seal is written at
            // exactly that position, as periodic checkpoints are: `LedgerAppender.append` would
            // check the head again, and a second check that stamps another break would move the
            // seal away from the size and head hash it records.
            let position = try LedgerAppender.nextPosition(db, ledger, now: now)
            let headSeq = position.seq - 1
            var reused = false
            if headSeq >= 1,
                let head = try Row.fetchOne(db, sql: "SELECT event FROM ledger_events WHERE seq = ?", arguments: [headSeq]),
                let stamp = try? Stamp.parse(head["event"] as String),
                stamp.hash == position.previousHash, stamp.seq == headSeq,
                let seal = ExportSeal(payload: stamp.payload, at: Int(headSeq - 1)), seal.size == headSeq - 1
            {
                reused = true
            } else {
                var fields = ExportSeal.payload(seq: position.seq, size: position.seq - 1, headHash: position.previousHash)
                fields["event_type"] = nil
                fields["seq"] = nil
                _ = try LedgerAppender.write(db, ledger, at: position, kind: Checkpoint.eventType, fields: fields, now: now)
            }
            let sealSeq = reused ? headSeq : position.seq
            let events = try Row.fetchAll(db, sql: "SELECT * FROM ledger_events WHERE seq <= ? ORDER BY seq", arguments: [sealSeq])
                .map(Self.decodeEvent)
            guard let seal = events.last, seal.seq == sealSeq else {
                throw StoreError(.corruptRow, "the export checkpoint at seq \(sealSeq) is not in ledger_events; nothing was exported")
            }
            return SealedExport(events: events, seal: seal, size: sealSeq - 1, reused: reused)
        }
    }
}
