import Benchmark

// Write throughput of Keel's store, next to the floor SQLite itself sets on the same disk.
//
// Each benchmark writes to a fresh file in WAL mode. With `synchronous = FULL` every commit waits
// for an fsync of the WAL, so the disk, not the CPU, sets the pace; a claim→transition cycle is two
// write transactions, so its rate can be at most about half the durable insert rate, and the ratio
// of the two says how much of that budget Keel's own SQL and decoding spend.
//
// GRDB's pool resets the writer to NORMAL when it switches to WAL (see RawInsertBenchmark.swift);
// `SQLiteStore` sets FULL again after opening, and the NORMAL floor is kept for comparison.
//
// Run (not part of CI; the first release build takes several minutes on 2 cores):
//
//     KEEL_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target KeelBenchmarks
//
// The ledger benchmarks (Ledger*.swift) build their fixtures once and cache them under
// `KEEL_BENCH_CACHE` (default `<temp>/keel-bench-cache`): a 20,000-event audit bundle, which
// `Benchmarks/aiss/verify_bundle.py` verifies with aiss-standard for comparison, and a
// 1,000,999-event SQLite ledger for startup verification (a few minutes to build the first time).
// Run a subset with `--filter`, e.g. `--filter "ledger verify.*"`.
let benchmarks: @Sendable () -> Void = {
    registerStoreCycleBenchmark()
    registerRawInsertBenchmarks()
    registerLedgerAppendBenchmarks()
    registerLedgerVerifyBenchmarks()
    registerLedgerStartupBenchmarks()
    registerClassifierBenchmark()
}

/// Settings shared by both benchmarks: a short run each, measured in operations per second.
enum DurableWriteRun {
    static let metrics: [BenchmarkMetric] = [.throughput, .wallClock]
    static let warmupIterations = 10
    static let maxDuration: Duration = .seconds(5)

    static func configuration(maxIterations: Int) -> Benchmark.Configuration {
        .init(
            metrics: metrics,
            warmupIterations: warmupIterations,
            scalingFactor: .one,
            maxDuration: maxDuration,
            maxIterations: maxIterations
        )
    }
}

/// Why a benchmark could not measure what it claims to; the runner reports it as the benchmark's failure.
struct BenchmarkFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
