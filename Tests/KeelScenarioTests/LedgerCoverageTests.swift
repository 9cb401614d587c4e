import Foundation
import KeelAgents
import KeelTestSupport
import Testing

/// `keel ledger verify` on a project `keel demo` built, after someone with write access to the
/// database deleted or edited business rows or ledger events: every state transition, finished
/// agent run and cost has its stamp with the same values, and every such stamp its row.
@Suite struct LedgerCoverageTests {
    /// `keel ledger verify --json`.
    struct Verification: Decodable {
        struct Break: Decodable { var seq: Int64?; var kind: String; var expected: String; var found: String; var message: String }
        var valid: Bool
        var breaks: [Break]
    }

    func verify(_ demo: LedgerDemo, sourceLocation: SourceLocation = #_sourceLocation) async throws -> (exit: Int32?, report: Verification) {
        let run = try await demo.keel(["ledger", "verify", "--json"])
        let report = try JSONDecoder().decode(Verification.self, from: Data(run.stdout.utf8))
        if case .exited(let code) = run.outcome.termination { return (code, report) }
        return (nil, report)
    }

    /// Runs `statement` on the demo's database behind Keel's back (Python's sqlite3); returns the rows it changed.
    @discardableResult
    func write(_ demo: LedgerDemo, _ statement: String) async throws -> Int {
        let run = try await python(
            """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            changed = db.execute(sys.argv[2]).rowcount
            db.commit()
            print(changed)
            """, [demo.database, statement], in: demo.dir)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
        return try #require(Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The ids of the state transitions stamped after `seq`, read from the stamps' texts.
    func transitionsStamped(after seq: Int64, in demo: LedgerDemo) async throws -> [Int64] {
        try await demo.sql(
            """
            SELECT json_extract(event, '$.payload.transition_id') FROM ledger_events
            WHERE seq > \(seq) AND json_extract(event, '$.payload.event_type') = 'state_transition' ORDER BY seq
            """
        ).split(separator: "\n").compactMap { Int64($0) }
    }

    @Test func anUntouchedDemoVerifiesWithEveryRowStamped() async throws {
        try await withTemporaryDirectory(prefix: "keel-coverage-intact") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let rows = try await demo.sql("SELECT (SELECT count(*) FROM state_transitions), (SELECT count(*) FROM cost_events)")
            #expect(!rows.hasPrefix("0|") && !rows.hasSuffix("|0\n"), "the demo has transitions and costs to compare: \(rows)")
            let (exit, report) = try await verify(demo)
            #expect(exit == 0 && report.valid && report.breaks.isEmpty, "\(report.breaks.map(\.message))")
        }
    }

    @Test func aCutTailLeavesTransitionsWithoutStampsAndVerifyNamesThem() async throws {
        try await withTemporaryDirectory(prefix: "keel-coverage-tail") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let keep = try await demo.ledgerCount() - 6
            let cut = try await transitionsStamped(after: keep, in: demo)
            try #require(!cut.isEmpty, "the last events of the demo include transitions")
            try await write(demo, "DELETE FROM ledger_events WHERE seq > \(keep)")

            let (exit, report) = try await verify(demo)
            #expect(exit == 1)
            let missing = report.breaks.filter { $0.kind == "missing_stamp" }
            for id in cut {
                #expect(
                    missing.contains { $0.message.contains("state_transitions row \(id) (") && $0.seq == nil },
                    "transition \(id) lost its stamp: \(report.breaks.map(\.message))")
            }
        }
    }

    @Test func aDeletedTransitionLeavesItsStampWithoutARow() async throws {
        try await withTemporaryDirectory(prefix: "keel-coverage-row") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let id = try #require(Int64(try await demo.sql("SELECT id FROM state_transitions ORDER BY id LIMIT 1 OFFSET 5").trimmingCharacters(in: .whitespacesAndNewlines)))
            let seq = try #require(Int64(try await demo.sql(
                "SELECT seq FROM ledger_events WHERE json_extract(event, '$.payload.event_type') = 'state_transition' AND json_extract(event, '$.payload.transition_id') = \(id)"
            ).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try await write(demo, "DELETE FROM state_transitions WHERE id = \(id)") == 1)

            let (exit, report) = try await verify(demo)
            #expect(exit == 1)
            let b = try #require(report.breaks.first { $0.kind == "missing_row" }, "\(report.breaks.map(\.message))")
            #expect(b.seq == seq && b.expected == "state_transitions row \(id)" && b.found == "none")
            #expect(b.message.contains("stamp at seq \(seq)") && b.message.contains("state_transitions row \(id)"), "\(b.message)")
        }
    }

    @Test func anEditedCostIsAMismatchWithItsStamp() async throws {
        try await withTemporaryDirectory(prefix: "keel-coverage-cost") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let row = try await demo.sql("SELECT id, run_id, cost_micros FROM cost_events WHERE cost_micros > 0 ORDER BY id LIMIT 1")
                .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").compactMap { Int64($0) }
            try #require(row.count == 3, "the demo has a priced cost")
            let (id, run, micros) = (row[0], row[1], row[2])
            #expect(try await write(demo, "UPDATE cost_events SET cost_micros = 1 WHERE id = \(id)") == 1)

            let (exit, report) = try await verify(demo)
            #expect(exit == 1)
            let b = try #require(report.breaks.first { $0.kind == "row_mismatch" }, "\(report.breaks.map(\.message))")
            #expect(b.expected == "cost_micros=\(micros)" && b.found == "cost_micros=1")
            #expect(b.message.contains("cost_events row \(id) (run \(run)"), "\(b.message)")
            let stamped = try await demo.sql(
                "SELECT json_extract(event, '$.payload.run_id') FROM ledger_events WHERE seq = \(try #require(b.seq))")
            #expect(stamped == "\(run)\n", "the break is at the run's cost_event stamp")
        }
    }

    @Test func verifyingTwiceRecordsEachBreakOnce() async throws {
        try await withTemporaryDirectory(prefix: "keel-coverage-twice") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let keep = try await demo.ledgerCount() - 6
            try #require(!(try await transitionsStamped(after: keep, in: demo)).isEmpty)
            try await write(demo, "DELETE FROM ledger_events WHERE seq > \(keep)")
            #expect(try await write(demo, "UPDATE agent_runs SET exit_code = 99 WHERE id = 1") == 1)
            #expect(try await write(demo, "UPDATE state_transitions SET actor = 'ann' WHERE id = 3") == 1)

            let first = try await verify(demo)
            #expect(first.exit == 1)
            let kinds = Set(first.report.breaks.map(\.kind))
            #expect(kinds.isSuperset(of: ["missing_stamp", "row_mismatch"]), "\(kinds)")
            let recorded = try await demo.status().breaks
            let second = try await verify(demo)
            #expect(second.exit == 1)
            #expect(second.report.breaks.map(\.message) == first.report.breaks.map(\.message))
            let after = try await demo.status().breaks
            #expect(after.map(\.id) == recorded.map(\.id), "the second verify recorded no break again: \(after.map(\.kind))")
            for kind in ["missing_stamp", "row_mismatch"] {
                #expect(
                    after.filter { $0.kind == kind }.count == first.report.breaks.filter { $0.kind == kind }.count,
                    "each \(kind) found is one break")
            }
        }
    }
}
