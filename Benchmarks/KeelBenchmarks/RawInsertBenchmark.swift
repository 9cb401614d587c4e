import Benchmark
import Foundation
import GRDB

/// The floor: one `INSERT` of one integer per write transaction, through a GRDB `DatabasePool` set
/// up like `SQLiteStore`'s (WAL, which the pool turns on, and `synchronous = FULL`), on a fresh file
/// in the same temporary directory tree. What is left is SQLite's commit and the fsync behind it.
func registerRawInsertBenchmark() {
    let directory = ScratchDirectory(label: "raw-insert")

    Benchmark(
        "raw durable single-row insert",
        configuration: DurableWriteRun.configuration(maxIterations: 20_000)
    ) { benchmark, pool in
        for _ in benchmark.scaledIterations {
            let value = benchmark.currentIteration
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO samples (value) VALUES (?)", arguments: [value])
            }
        }
    } setup: {
        try directory.create()
        return try await RawInsert.open(directory.path("raw.sqlite"))
    } teardown: {
        directory.remove()
    }
}

enum RawInsert {
    static func open(_ path: String) async throws -> DatabasePool {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool = try DatabasePool(path: path, configuration: config)
        let (journal, synchronous) = try await pool.write { db in
            try db.execute(sql: "CREATE TABLE samples (value INTEGER NOT NULL)")
            return (
                try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
            )
        }
        // 2 is FULL: anything less would measure a cheaper commit than the store pays.
        guard journal.lowercased() == "wal", synchronous == 2 else {
            throw BenchmarkFailure("raw pool runs journal_mode=\(journal), synchronous=\(synchronous); expected wal and 2 (FULL)")
        }
        return pool
    }
}
