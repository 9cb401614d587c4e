import Foundation
public import KeelLedger

/// Whether the business rows and their ledger stamps agree: every `state_transitions` row, every
/// finished `agent_runs` row and every `cost_events` row has its stamp with the same values, and
/// every such stamp has its row.
///
/// The store writes a row and its stamp in one transaction, so any difference was made behind
/// Keel's back: a stamp cut off with the ledger's tail, a row deleted or edited. The stamps are
/// found by the `event_type` of their signed text, never by an unsigned column such as
/// `ledger_events.kind`. A value a stamp does not carry (one written by an older Keel) is not
/// compared; a value it carries must be the row's. Stamps before a signed `ledger_restored`
/// stamp came from a backup: their rows may have stayed with the database it replaced, so they
/// need no row (every row still needs its stamp).
///
/// ```swift
/// let coverage = StampCoverage(rows: rows, events: events.map { ($0.seq, $0.event) })
/// let problems = coverage.problems(besides: [])   // [DetectedBreak]: missing_stamp, missing_row, row_mismatch, duplicate_stamp
/// ```
public struct StampCoverage: Sendable {
    /// A table whose rows Keel stamps.
    public enum Table: String, Sendable, CaseIterable {
        case stateTransitions = "state_transitions"
        case agentRuns = "agent_runs"
        case costEvents = "cost_events"

        /// The `event_type` of its stamps.
        public var stampType: String {
            switch self {
            case .stateTransitions: "state_transition"
            case .agentRuns: "agent_run"
            case .costEvents: "cost_event"
            }
        }

        /// The payload member that names a row: the row's id for transitions and runs, the run's
        /// id for a cost (a cost stamp does not record the cost row's own id; a run has one cost).
        public var keyField: String {
            self == .stateTransitions ? "transition_id" : "run_id"
        }

        /// The columns a stamp records besides its key, under their payload names (the column names).
        public var columns: [String] {
            switch self {
            case .stateTransitions: ["item_id", "from_state", "to_state", "reason", "actor", "at"]
            case .agentRuns: ["item_id", "attempt", "stage", "agent", "outcome", "exit_code", "prompt_sha256", "started_at", "ended_at"]
            case .costEvents:
                [
                    "item_id", "tenant", "repo", "agent", "model", "turns", "input_tokens", "output_tokens", "cache_read_tokens",
                    "cache_write_tokens", "cost_micros", "cost_source",
                ]
            }
        }

        /// Columns stored as ISO 8601 text and stamped as Unix seconds.
        func isTime(_ column: String) -> Bool {
            column == "at" || column == "started_at" || column == "ended_at"
        }

        init?(stampType: String) {
            guard let table = Self.allCases.first(where: { $0.stampType == stampType }) else { return nil }
            self = table
        }
    }

    /// One business row: its id and the values of ``Table/columns`` (timestamps as their stored
    /// text; for a cost row, `run_id` too).
    public struct Row: Sendable, Equatable {
        public var table: Table
        public var id: Int64
        public var values: JSONObject

        public init(table: Table, id: Int64, values: JSONObject) {
            self.table = table
            self.id = id
            self.values = values
        }

        /// The stamp key that should name this row (nil for a cost row without a run).
        var key: Int64? {
            table == .costEvents ? values["run_id"]?.integerValue : id
        }

        /// A run that has not finished yet is stamped when it finishes.
        var needsStamp: Bool {
            table != .agentRuns || (values["ended_at"] ?? .null) != .null
        }

        /// The row as it was found (SHA-256 of its table, id and values): the evidence of a
        /// break about a row that no event holds.
        var evidence: String {
            BreakEvidence.digest(storedHash: "\(table.rawValue) row \(id)", text: JSONValue.object(values).description)
        }

        /// How a person finds it: `state_transitions row 12 (item 3: queued → developing)`.
        var name: String {
            "\(table.rawValue) row \(id) (\(StampCoverage.summary(table, values)))"
        }
    }

    /// A stamp of a business row, as its signed text records it.
    struct Stamped: Sendable {
        var table: Table
        var seq: Int64
        var payload: JSONObject
        /// How many `ledger_restored` stamps precede it: the rows of an earlier epoch's stamps
        /// stayed with the database the backup replaced.
        var epoch: Int
    }

    /// The `event_type` the store stamps after filling an empty ledger from its backup.
    public static let restoredType = "ledger_restored"

    let rows: [Row]
    let stamps: [Stamped]
    /// How many restores the ledger records.
    let epochs: Int

    /// `rows` in any order; `events` every ledger event as (seq, stored text). Texts that do not
    /// parse, and events of other types, are not stamps of rows (the chain verifier reports the
    /// unreadable ones).
    public init(rows: [Row], events: [(seq: Int64, text: String)]) {
        self.rows = rows.sorted { ($0.table.rawValue, $0.id) < ($1.table.rawValue, $1.id) }
        var stamps: [Stamped] = []
        var epoch = 0
        for event in events.sorted(by: { $0.seq < $1.seq }) {
            guard let payload = (try? JSONValue.parse(event.text))?["payload"]?.objectValue, let type = payload["event_type"]?.stringValue
            else { continue }
            if type == Self.restoredType { epoch += 1 }
            guard let table = Table(stampType: type) else { continue }
            stamps.append(Stamped(table: table, seq: event.seq, payload: payload, epoch: epoch))
        }
        self.stamps = stamps
        epochs = epoch
    }

    /// Every disagreement between rows and stamps, as breaks to record.
    ///
    /// A row without its stamp has no seq of its own; when a chain break lies where its stamp
    /// belongs (after the stamp of the row before it, up to that of the row after it), it is
    /// given that break's seq, so that one deleted event stays one incident for a person. Otherwise
    /// its evidence is a digest of the row, so that finding it again is the same break.
    public func problems(besides chainBreaks: Set<Int64>) -> [DetectedBreak] {
        let breakSeqs = chainBreaks.sorted()
        var found: [DetectedBreak] = []
        var byKey: [Table: [Int64: Stamped]] = [:]
        for stamp in stamps {
            guard let key = stamp.payload[JSONKey(stamp.table.keyField)]?.integerValue else {
                found.append(
                    DetectedBreak(
                        seq: stamp.seq, kind: "missing_row", expected: "an integer \(stamp.table.keyField)",
                        found: Self.shown(stamp.payload[JSONKey(stamp.table.keyField)]),
                        message: "the \(stamp.table.stampType) stamp at seq \(stamp.seq) names no \(stamp.table.keyField), so no \(stamp.table.rawValue) row can match it"))
                continue
            }
            // A database started afresh after a restore numbers its rows from 1 again: a stamp
            // of a later epoch takes the key over.
            if let first = byKey[stamp.table]?[key], first.epoch == stamp.epoch {
                let what = stamp.table == .costEvents ? "the cost of run \(key)" : "\(stamp.table.rawValue) row \(key)"
                found.append(
                    DetectedBreak(
                        seq: stamp.seq, kind: "duplicate_stamp", expected: "one \(stamp.table.stampType) stamp for \(what) (seq \(first.seq))",
                        found: "another at seq \(stamp.seq)",
                        message: "the \(stamp.table.stampType) stamp at seq \(stamp.seq) records \(what) again (first stamped at seq \(first.seq)): a stamp was copied or replayed"))
                continue
            }
            byKey[stamp.table, default: [:]][key] = stamp
        }

        var matched: [Table: Set<Int64>] = [:]
        var table: Table?
        var lastSeq: Int64 = 0
        var unstamped: [Row] = []
        /// Rows without stamps whose stamps belonged after `lastSeq` and up to `upTo`.
        func flushUnstamped(upTo: Int64?) {
            let chainBreak = breakSeqs.first { seq in seq > lastSeq && upTo.map { seq <= $0 } ?? true }
            for row in unstamped {
                found.append(
                    DetectedBreak(
                        seq: chainBreak, kind: "missing_stamp", expected: "the \(row.table.stampType) stamp of \(row.table.rawValue) row \(row.id)",
                        found: "none",
                        message: "\(row.name) has no \(row.table.stampType) stamp in the ledger: its stamp was removed (the ledger's tail cut off?) or the row was added behind Keel's back",
                        evidence: row.evidence))
            }
            unstamped = []
        }
        for row in rows {
            if row.table != table {
                flushUnstamped(upTo: nil)
                table = row.table
                lastSeq = 0
            }
            guard let key = row.key, matched[row.table]?.contains(key) != true, let stamp = byKey[row.table]?[key] else {
                if row.needsStamp { unstamped.append(row) }
                continue
            }
            matched[row.table, default: []].insert(key)
            flushUnstamped(upTo: stamp.seq)
            lastSeq = max(lastSeq, stamp.seq)
            if let mismatch = Self.mismatch(row, stamp) { found.append(mismatch) }
        }
        flushUnstamped(upTo: nil)

        for stamp in byKey.values.flatMap(\.values) {
            // Stamps restored from the backup may have lost their rows with the old database.
            guard stamp.epoch == epochs, let key = stamp.payload[JSONKey(stamp.table.keyField)]?.integerValue,
                matched[stamp.table]?.contains(key) != true
            else { continue }
            let summary = Self.summary(stamp.table, stamp.payload)
            let (expected, recorded) =
                stamp.table == .costEvents
                ? ("a cost_events row for run \(key)", "a cost of run \(key) (\(summary)), but cost_events has no row for run \(key)")
                : ("\(stamp.table.rawValue) row \(key)", "\(stamp.table.rawValue) row \(key) (\(summary)), which is not in the table")
            found.append(
                DetectedBreak(
                    seq: stamp.seq, kind: "missing_row", expected: expected, found: "none",
                    message: "the \(stamp.table.stampType) stamp at seq \(stamp.seq) records \(recorded): the row was deleted behind Keel's back"))
        }
        return found.sorted { ($0.seq ?? .max, $0.kind, $0.expected) < ($1.seq ?? .max, $1.kind, $1.expected) }
    }

    /// The values in which `row` differs from its stamp, as one break at the stamp.
    static func mismatch(_ row: Row, _ stamp: Stamped) -> DetectedBreak? {
        var expected: [String] = []
        var found: [String] = []
        var differences: [String] = []
        for column in row.table.columns {
            guard let recorded = stamp.payload[JSONKey(column)] else { continue }
            let actual = row.values[JSONKey(column)] ?? .null
            let isTime = row.table.isTime(column)
            guard !(isTime ? sameInstant(actual, recorded) : actual == recorded) else { continue }
            let stamped = isTime ? shownTime(recorded) : shown(recorded)
            let stored = shown(actual)
            expected.append("\(column)=\(stamped)")
            found.append("\(column)=\(stored)")
            differences.append("\(column) is \(stored) in the row, \(stamped) in the stamp")
        }
        guard !differences.isEmpty else { return nil }
        return DetectedBreak(
            seq: stamp.seq, kind: "row_mismatch", expected: expected.joined(separator: "; "), found: found.joined(separator: "; "),
            message: "\(row.name) differs from its \(row.table.stampType) stamp at seq \(stamp.seq): \(differences.joined(separator: "; ")); the row was edited behind Keel's back")
    }

    /// A stored timestamp (ISO 8601 text, milliseconds) is the stamped Unix second when it falls
    /// in that second; the millisecond rounding of the text may carry it just past it.
    static func sameInstant(_ stored: JSONValue, _ stamped: JSONValue) -> Bool {
        if stored == .null || stamped == .null { return stored == stamped }
        guard let text = stored.stringValue, let date = Timestamp.date(text), let seconds = stamped.integerValue else { return false }
        let instant = date.timeIntervalSince1970
        return seconds >= Int64((instant - 0.001).rounded(.down)) && seconds <= Int64(instant.rounded(.down))
    }

    /// A value for a message: its canonical JSON, cut at 120 characters.
    static func shown(_ value: JSONValue?) -> String {
        let text = value.map(\.description) ?? "absent"
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }

    static func shownTime(_ value: JSONValue) -> String {
        guard let seconds = value.integerValue else { return shown(value) }
        return "\(seconds) (\(Timestamp.text(Date(timeIntervalSince1970: TimeInterval(seconds)))))"
    }

    /// What a row or stamp is about, in a few words, from its values.
    static func summary(_ table: Table, _ values: JSONObject) -> String {
        func plain(_ key: JSONKey) -> String {
            switch values[key] {
            case .string(let text)?: text.count > 60 ? String(text.prefix(60)) + "…" : text
            case .integer(let n)?: String(n)
            case nil, .null?: "none"
            case let other?: shown(other)
            }
        }
        switch table {
        case .stateTransitions: return "item \(plain("item_id")): \(plain("from_state")) → \(plain("to_state")) by \(plain("actor"))"
        case .agentRuns: return "item \(plain("item_id")), \(plain("stage")) by \(plain("agent")): \(plain("outcome"))"
        case .costEvents: return "run \(plain("run_id")), item \(plain("item_id")): \(plain("cost_micros")) micro-USD"
        }
    }
}
