public import Foundation
public import KeelLedger

/// The columns of `ledger_events` beside the event text (`seq`, `kind`, `subject`, `at`, `hash`)
/// are conveniences for SQL: nothing signs them. The text is the truth, so every column must say
/// exactly what the text says, and the text must be exactly the canonical bytes of its event (a
/// pretty-printed or re-escaped text would verify while dodging `LIKE` queries on it).
///
/// ```swift
/// for problem in LedgerRowCheck.problems(row) { print(problem.message) }
/// ```
public enum LedgerRowCheck {
    /// The `subject` column a stamp's row carries, derived from its payload: `item:N` for what
    /// happens to an item, `run:N` for an agent run, `break:N` for a chain break's stamps.
    public static func subject(kind: String?, payload: JSONObject) -> String? {
        func id(_ name: JSONKey) -> Int64? { payload[name]?.integerValue }
        switch kind {
        case "state_transition", "human_decision", "cost_event": return id("item_id").map { "item:\($0)" }
        case "agent_run": return id("run_id").map { "run:\($0)" }
        case "chain_break_detected", "chain_break_resolution", "timeout_no_action": return id("break_id").map { "break:\($0)" }
        default: return nil
        }
    }

    /// The `at` column of a stamp's row: its signed timestamp, to the second.
    public static func at(_ stamp: Stamp) -> Date {
        Date(timeIntervalSince1970: TimeInterval(stamp.timestamp))
    }

    /// Every column of `row` that disagrees with its text. A text that does not parse is the
    /// verifier's finding (`malformed_event`), not a column's; nothing else can be compared then.
    public static func problems(_ row: LedgerEventRecord) -> [DetectedBreak] {
        guard let stamp = try? Stamp.parse(row.event) else { return [] }
        return problems(row, stamp: stamp)
    }

    /// ``problems(_:)`` with the text already parsed into `stamp`.
    public static func problems(_ row: LedgerEventRecord, stamp: Stamp) -> [DetectedBreak] {
        var found: [DetectedBreak] = []
        let seq = row.seq
        func column(_ name: String, stored: String, signed: String) {
            found.append(
                DetectedBreak(
                    seq: seq, kind: "column_mismatch", expected: "\(name) = \(signed)", found: "\(name) = \(stored)",
                    message: "ledger_events.\(name) of the row at seq \(seq) is \(stored), but its signed event says \(signed): "
                        + "the column was edited outside Keel, and SQL over it no longer finds what the ledger records"))
        }
        if !exactlyEqualBytes(stamp.text, row.event) {
            found.append(
                DetectedBreak(
                    seq: seq, kind: "noncanonical_text", expected: "the canonical JSON of the event (\(stamp.text.utf8.count) bytes)",
                    found: "\(row.event.utf8.count) bytes that differ",
                    message: "the text stored at seq \(seq) is not the canonical bytes of its event (reformatted or re-escaped "
                        + "outside Keel): queries over the text can miss it"))
        }
        if !exactlyEqualBytes(stamp.hash, row.hash) {
            found.append(
                DetectedBreak(
                    seq: seq, kind: "hash_mismatch", expected: stamp.hash, found: row.hash,
                    message: "the hash stored with event \(seq) is not the hash of its text: the text or the hash was changed after it was written"))
        }
        if stamp.seq != seq {
            column("seq", stored: String(seq), signed: stamp.seq.map(String.init) ?? "no payload.seq")
        }
        if stamp.eventType != row.kind {
            column("kind", stored: row.kind, signed: stamp.eventType ?? "no payload.event_type")
        }
        let subject = subject(kind: stamp.eventType, payload: stamp.payload)
        if subject != row.subject {
            column("subject", stored: row.subject ?? "NULL", signed: subject ?? "NULL")
        }
        if Int64(row.at.timeIntervalSince1970.rounded(.down)) != stamp.timestamp {
            column("at", stored: Timestamp.text(row.at), signed: Timestamp.text(at(stamp)))
        }
        return found
    }

    static func exactlyEqualBytes(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }
}
