import Benchmark
import Foundation
import GRDB

/// The floor: one `INSERT` of one integer per write transaction, through a GRDB `DatabasePool`
/// (WAL, which the pool turns on) on a fresh file. What is left is SQLite's commit and, with
/// `synchronous = FULL`, the fsync of the WAL behind every commit.
///
/// The setting is applied to the pool's writer after the pool opens, not in `prepareDatabase`:
/// GRDB 7 runs `prepareDatabase` first and then, switching the writer to WAL, sets
/// `PRAGMA synchronous = NORMAL`, so a FULL set there does not last. That is what `SQLiteStore`
/// does today, which is why the NORMAL variant is measured too: it is the setting the store
/// actually commits with until that is fixed, and the fair floor for its numbers meanwhile.
func registerRawInsertBenchmarks() {
    registerRawInsertBenchmark("raw durable single-row insert", synchronous: .full)
    registerRawInsertBenchmark("raw single-row insert with synchronous NORMAL", synchronous: .normal)
}

private func registerRawInsertBenchmark(_ name: String, synchronous: RawInsert.Synchronous) {
    let directory = ScratchDirectory(label: "raw-insert-\(synchronous)")

    Benchmark(
        name,
        configuration: DurableWriteRun.configuration(maxIterations: 20_000)
    ) { (benchmark: Benchmark, pool: DatabasePool) in
        for _ in benchmark.scaledIterations {
            let value = benchmark.currentIteration
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO samples (value) VALUES (?)", arguments: [value])
            }
        }
    } setup: {
        try await directory.create {
            try await RawInsert.open(directory.path("raw.sqlite"), synchronous: synchronous)
        }
    } teardown: {
        directory.remove()
    }
}

enum RawInsert {
    enum Synchronous: Int, Sendable, CustomStringConvertible {
        case normal = 1
        case full = 2

        var description: String { self == .full ? "FULL" : "NORMAL" }
    }

    static func open(_ path: String, synchronous: Synchronous) async throws -> DatabasePool {
        let pool = try DatabasePool(path: path)
        // Every write goes through the pool's single writer connection, so this holds for the run.
        let (journal, effective) = try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "CREATE TABLE samples (value INTEGER NOT NULL)")
            return (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        guard journal.lowercased() == "wal", effective == synchronous.rawValue else {
            throw BenchmarkFailure(
                "raw pool runs journal_mode=\(journal), synchronous=\(effective); expected wal and \(synchronous.rawValue) (\(synchronous))")
        }
        return pool
    }
}
