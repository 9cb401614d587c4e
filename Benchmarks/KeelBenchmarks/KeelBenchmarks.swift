import Benchmark

// Durable-write throughput of Keel's store, next to the floor SQLite itself sets on the same disk.
//
// Both benchmarks write to fresh files in WAL mode with `synchronous = FULL`, so every commit waits
// for fsync; the disk, not the CPU, sets the pace. A claim→transition cycle is two write
// transactions, so its rate can be at most about half the raw insert rate: the ratio of the two
// says how much of the budget Keel's own SQL and decoding spend.
//
// Run (not part of CI; the first release build takes 10+ minutes on 2 cores):
//
//     KEEL_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target KeelBenchmarks
let benchmarks: @Sendable () -> Void = {
    registerStoreCycleBenchmark()
    registerRawInsertBenchmark()
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
