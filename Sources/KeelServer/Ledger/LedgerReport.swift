import Foundation
import KeelCore
import KeelStore

/// `GET /api/ledger`: the ledger's status, its length, and every break.
struct LedgerReport: Encodable, Sendable {
    var status: LedgerStatus
    var events: Int64
    var breaks: [BreakSummary]
}

/// One break as the JSON API shows it, timestamps as the store writes them (ISO 8601 UTC).
struct BreakSummary: Encodable, Sendable {
    var id: Int64
    var seq: Int64?
    var kind: String
    var expected: String
    var found: String
    var message: String
    var detectedAt: String
    var deadline: String
    var decision: String?
    var decidedBy: String?
    var decidedAt: String?
    var note: String?
    /// Undecided past its deadline, or `timeout_no_action` stamped: the chain is `broken_declared` for it.
    var timedOut: Bool

    init(_ record: LedgerBreakRecord, now: Date) {
        id = record.id
        seq = record.seq
        kind = record.kind
        expected = record.expected
        found = record.found
        message = record.message
        detectedAt = Timestamp.text(record.detectedAt)
        deadline = Timestamp.text(record.deadline)
        decision = record.decision
        decidedBy = record.decidedBy
        decidedAt = record.decidedAt.map(Timestamp.text)
        note = record.note
        timedOut = record.timeoutSeq != nil || (record.decision == nil && now >= record.deadline)
    }

    enum CodingKeys: String, CodingKey {
        case id, seq, kind, expected, found, message, deadline, decision, note
        case detectedAt = "detected_at"
        case decidedBy = "decided_by"
        case decidedAt = "decided_at"
        case timedOut = "timed_out"
    }

    // Absent values are written as null, so that every break has the same keys.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(seq, forKey: .seq)
        try c.encode(kind, forKey: .kind)
        try c.encode(expected, forKey: .expected)
        try c.encode(found, forKey: .found)
        try c.encode(message, forKey: .message)
        try c.encode(detectedAt, forKey: .detectedAt)
        try c.encode(deadline, forKey: .deadline)
        try c.encode(decision, forKey: .decision)
        try c.encode(decidedBy, forKey: .decidedBy)
        try c.encode(decidedAt, forKey: .decidedAt)
        try c.encode(note, forKey: .note)
        try c.encode(timedOut, forKey: .timedOut)
    }
}
