public import Foundation
public import KeelLedger
public import KeelCore

/// The state of every chain break, derived from the signed stamps alone: `chain_break_detected`
/// (what, where, the deadline), `chain_break_resolution` (who decided what, when) and
/// `timeout_no_action`. The `ledger_breaks` table is a cache of this book for SQL; a row that
/// says anything the stamps do not (a decision nobody stamped, an edited deadline, a cleared
/// timeout) is itself a break (``cacheProblems(_:)``), and the row is rebuilt from the stamps.
///
/// Stamps that contradict each other are breaks too (``problems``): a decision or a timeout for a
/// break no detection stamp names, a second decision, a second timeout, a timeout before the
/// deadline or after a decision. The first decision stands; the later one changes nothing.
///
/// ```swift
/// let book = BreakBook(stamps: verifiedBreakStamps)   // (seq, stamp), in seq order
/// book.breaks[3]?.decision      // "validate" only if a signed resolution says so
/// ```
public struct BreakBook: Sendable {
    /// The `event_type`s the book is made of.
    public static let kinds = ["chain_break_detected", "chain_break_resolution", "timeout_no_action"]

    /// Every stamped break by id (`alertedAt` is nil: alerts are not stamped).
    public private(set) var breaks: [Int64: LedgerBreakRecord] = [:]
    /// Stamps that contradict the others, as breaks to record.
    public private(set) var problems: [DetectedBreak] = []

    /// The book of `stamps`, each at its seq, in seq order (stamps of other kinds are ignored).
    public init(stamps: [(seq: Int64, stamp: Stamp)]) {
        for (seq, stamp) in stamps { add(stamp, at: seq) }
    }

    /// The breaks in id order.
    public var ordered: [LedgerBreakRecord] { breaks.values.sorted { $0.id < $1.id } }

    /// The fingerprints of every stamped break: a break found again is not recorded again.
    public var fingerprints: Set<String> {
        Set(breaks.values.map { DetectedBreak.fingerprint(kind: $0.kind, seq: $0.seq, expected: $0.expected, found: $0.found, evidence: $0.evidence) })
    }

    /// The highest break id stamped (0 when none).
    public var maxID: Int64 { breaks.keys.max() ?? 0 }

    mutating func add(_ stamp: Stamp, at seq: Int64) {
        let payload = stamp.payload
        let when = Date(timeIntervalSince1970: TimeInterval(stamp.timestamp))
        func problem(_ kind: String, _ expected: String, _ message: String) {
            problems.append(DetectedBreak(seq: seq, kind: kind, expected: expected, found: "\(stamp.eventType ?? "?") at seq \(seq)", message: message))
        }
        guard let id = payload["break_id"]?.integerValue else {
            if let type = stamp.eventType, Self.kinds.contains(type) {
                problem("malformed_break_stamp", "a break_id", "the \(type) stamp at seq \(seq) names no break_id")
            }
            return
        }
        switch stamp.eventType {
        case "chain_break_detected":
            guard breaks[id] == nil else {
                problem("duplicate_break", "one chain_break_detected for break #\(id)", "a second chain_break_detected stamp for break #\(id) at seq \(seq)")
                return
            }
            guard case .string(let kind)? = payload["kind"], case .string(let expected)? = payload["expected"],
                case .string(let found)? = payload["found"], case .string(let message)? = payload["message"],
                let deadline = payload["deadline"]?.integerValue
            else {
                problem("malformed_break_stamp", "kind, expected, found, message and deadline", "the chain_break_detected stamp at seq \(seq) lacks a field")
                return
            }
            breaks[id] = LedgerBreakRecord(
                id: id, seq: payload["at_seq"]?.integerValue, kind: kind, expected: expected, found: found, message: message, detectedAt: when,
                deadline: Date(timeIntervalSince1970: TimeInterval(deadline)), detectionSeq: seq, decision: nil, decidedBy: nil,
                decidedAt: nil, note: nil, resolutionSeq: nil, timeoutSeq: nil, alertedAt: nil, evidence: payload["evidence"]?.stringValue)
        case "chain_break_resolution":
            guard var record = breaks[id] else {
                problem("orphan_decision", "a chain_break_detected stamp for break #\(id) before it", "a decision at seq \(seq) on break #\(id), which no detection stamp before it names")
                return
            }
            guard record.decision == nil else {
                problem(
                    "duplicate_decision", "one decision on break #\(id) (made at seq \(record.resolutionSeq ?? 0))",
                    "a second decision on break #\(id) at seq \(seq): a break takes one decision, the first stands")
                return
            }
            guard case .string(let decision)? = payload["decision"], BreakDecision(rawValue: decision) != nil,
                case .string(let person)? = payload["decided_by"]
            else {
                problem("malformed_break_stamp", "a decision and decided_by", "the chain_break_resolution stamp at seq \(seq) has no valid decision or decider")
                return
            }
            record.decision = decision
            record.decidedBy = person
            record.decidedAt = when
            record.note = payload["note"]?.stringValue
            record.resolutionSeq = seq
            breaks[id] = record
        case "timeout_no_action":
            guard var record = breaks[id] else {
                problem("orphan_decision", "a chain_break_detected stamp for break #\(id) before it", "a timeout at seq \(seq) for break #\(id), which no detection stamp before it names")
                return
            }
            if let first = record.timeoutSeq {
                problem("duplicate_timeout", "one timeout_no_action for break #\(id) (at seq \(first))", "a second timeout_no_action for break #\(id) at seq \(seq)")
                return
            }
            if let decided = record.resolutionSeq {
                problem("duplicate_timeout", "no timeout after the decision at seq \(decided)", "a timeout_no_action for break #\(id) at seq \(seq), after it was decided")
                return
            }
            if when < record.deadline {
                problem(
                    "premature_timeout", "a timeout at or after \(Timestamp.text(record.deadline))",
                    "a timeout_no_action for break #\(id) at seq \(seq), stamped before its deadline")
                return
            }
            record.timeoutSeq = seq
            breaks[id] = record
        default:
            return
        }
    }

    /// Where the `ledger_breaks` rows disagree with the stamps: one break per row (extra, missing
    /// or different), saying what the row claims and what the stamps say.
    public func cacheProblems(_ cache: [LedgerBreakRecord]) -> [DetectedBreak] {
        var problems: [DetectedBreak] = []
        var rows: [Int64: LedgerBreakRecord] = [:]
        for row in cache { rows[row.id] = row }
        func add(_ id: Int64, stamped: String, row: String, _ message: String) {
            problems.append(
                DetectedBreak(
                    seq: nil, kind: "break_record_mismatch", expected: "break #\(id): \(stamped)", found: "row #\(id): \(row)", message: message,
                    evidence: sha256Hex(Array("break #\(id)\n\(row)".utf8))))
        }
        for row in cache.sorted(by: { $0.id < $1.id }) where breaks[row.id] == nil {
            add(
                row.id, stamped: "no stamp", row: Self.summary(row),
                "ledger_breaks row #\(row.id) (\(Self.summary(row))) has no chain_break_detected stamp: it was written outside Keel; the row is removed")
        }
        for stamped in ordered {
            guard let row = rows[stamped.id] else {
                add(
                    stamped.id, stamped: Self.summary(stamped), row: "missing",
                    "the ledger_breaks row of break #\(stamped.id) was deleted outside Keel; it is rebuilt from its stamps")
                continue
            }
            let differences = Self.differences(stamped: stamped, row: row)
            guard !differences.isEmpty else { continue }
            add(
                stamped.id, stamped: differences.map { "\($0.field)=\($0.stamped)" }.joined(separator: ", "),
                row: differences.map { "\($0.field)=\($0.row)" }.joined(separator: ", "),
                "the ledger_breaks row of break #\(stamped.id) says "
                    + differences.map { "\($0.field) \($0.row)" }.joined(separator: ", ")
                    + " but its signed stamps say " + differences.map { "\($0.field) \($0.stamped)" }.joined(separator: ", ")
                    + ": the row was edited outside Keel; it is rebuilt from the stamps")
        }
        return problems
    }

    /// The fields a row and the stamps disagree on (times to the second: stamps carry seconds).
    static func differences(stamped: LedgerBreakRecord, row: LedgerBreakRecord) -> [(field: String, stamped: String, row: String)] {
        func text(_ value: (some CustomStringConvertible)?) -> String { value.map { "\($0)" } ?? "none" }
        func seconds(_ date: Date?) -> String { date.map { Timestamp.text(Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.down))) } ?? "none" }
        var fields: [(String, String, String)] = [
            ("seq", text(stamped.seq), text(row.seq)), ("kind", stamped.kind, row.kind), ("expected", stamped.expected, row.expected),
            ("found", stamped.found, row.found), ("message", stamped.message, row.message),
            ("detected_at", seconds(stamped.detectedAt), seconds(row.detectedAt)), ("deadline", seconds(stamped.deadline), seconds(row.deadline)),
            ("detection_seq", text(stamped.detectionSeq), text(row.detectionSeq)), ("decision", text(stamped.decision), text(row.decision)),
            ("decided_by", text(stamped.decidedBy), text(row.decidedBy)), ("decided_at", seconds(stamped.decidedAt), seconds(row.decidedAt)),
            ("note", text(stamped.note), text(row.note)), ("resolution_seq", text(stamped.resolutionSeq), text(row.resolutionSeq)),
            ("timeout_seq", text(stamped.timeoutSeq), text(row.timeoutSeq)),
        ]
        // Stamps written before breaks carried evidence have none: the row's is all there is.
        if stamped.evidence != nil { fields.append(("evidence", text(stamped.evidence), text(row.evidence))) }
        return fields.filter { $0.1 != $0.2 }.map { (field: $0.0, stamped: $0.1, row: $0.2) }
    }

    static func summary(_ b: LedgerBreakRecord) -> String {
        var text = "\(b.kind) at seq \(b.seq.map(String.init) ?? "-")"
        if let decision = b.decision { text += ", \(decision) by \(b.decidedBy ?? "?")" }
        if b.timeoutSeq != nil { text += ", timed out" }
        return text
    }

    /// The ledger's status from the stamped breaks.
    public func status(now: Date) -> LedgerStatus {
        LedgerPolicy.status(
            of: ordered.map { BreakState(id: $0.id, deadline: $0.deadline, decision: $0.decision.flatMap(BreakDecision.init), timedOut: $0.timeoutSeq != nil) },
            now: now)
    }
}
