import Foundation
import GRDB
import KeelLedger

extension SQLiteStore {
    /// Every disagreement between the business rows and their stamps (``StampCoverage``), read in
    /// one read transaction so that a write in between cannot pass for one. `chainBreaks` are the
    /// breaks the chain verifier found: a stamp missing where one of them is belongs to it.
    ///
    /// A store opened without a ledger stamps nothing, so it has nothing to compare.
    public func stampCoverageProblems(besides chainBreaks: [DetectedBreak]) async throws -> [DetectedBreak] {
        guard ledger != nil else { return [] }
        let (rows, events) = try await pool.read { db in
            var rows: [StampCoverage.Row] = []
            for table in StampCoverage.Table.allCases {
                // The column names come from StampCoverage, never from input.
                let columns = table.columns + (table == .costEvents ? ["run_id"] : [])
                let cursor = try Row.fetchCursor(db, sql: "SELECT id, \(columns.joined(separator: ", ")) FROM \(table.rawValue) ORDER BY id")
                while let row = try cursor.next() {
                    var values: JSONObject = [:]
                    for (index, column) in columns.enumerated() { values[JSONKey(column)] = Self.json(row[index + 1]) }
                    rows.append(StampCoverage.Row(table: table, id: row[0], values: values))
                }
            }
            var events: [(seq: Int64, text: String)] = []
            let cursor = try Row.fetchCursor(db, sql: "SELECT seq, event FROM ledger_events ORDER BY seq")
            while let row = try cursor.next() { events.append((row[0], (row[1] as String?) ?? "")) }
            return (rows, events)
        }
        return StampCoverage(rows: rows, events: events).problems(besides: Set(chainBreaks.compactMap(\.seq)))
    }

    /// Signs, after the events restored from a backup, that they were restored: the rows of those
    /// stamps may have stayed with the database the backup replaced, and a store started afresh
    /// numbers its rows from 1 again. Only the signer can say so; a database writer cannot.
    static func stampRestore(_ db: Database, _ ledger: LedgerSettings?, events: Int, now: Date) throws {
        guard let ledger, events > 0 else { return }
        try LedgerAppender.append(
            db, ledger, kind: StampCoverage.restoredType, fields: ["events": .integer(Int64(events))], now: now)
    }

    /// A column's value as the JSON a stamp would hold (SQLite keeps whatever type was written).
    static func json(_ value: DatabaseValue) -> JSONValue {
        switch value.storage {
        case .null: .null
        case .int64(let n): .integer(n)
        case .double(let x): .number(x)
        case .string(let text): .string(text)
        case .blob(let data): .string("x'" + data.map { String(format: "%02x", $0) }.joined() + "'")
        }
    }
}
