import Benchmark
import Foundation
import KeelLedger

/// Full verification throughput next to the raw Ed25519 verification rate, over the same 20,000
/// events (``BundleFixture``: `state_transition` stamps with a checkpoint every 1,000, as the
/// store writes them).
///
/// - raw: `AgentKey.isValidSignature` over each event's signature and signed bytes, on one core:
///   the floor a verifier cannot go below; and the same split over every core, which says how
///   far the cores scale on this machine at this moment, whatever the verifier does.
/// - full: `ChainVerifier.verify(texts:)` on the stored texts: parse, canonicalize, hash and
///   check the signature of every event on every core, then the linkage pass in order.
/// - the ratio benchmark runs all three in each iteration, so that they see the same machine
///   load, and reports full ÷ (raw × cores) in per mille (the aim is at least 850), and full ÷
///   raw on all cores.
/// - bundle: `AuditBundle.parse` + `verify` of the exported file, what
///   `keel ledger verify --bundle` does; `Benchmarks/aiss/verify_bundle.py` times aiss-standard's
///   `verify_chain` + `validate_audit_export` on the same file.
///
/// Rates are custom metrics in events per second (larger is better). Parallel work runs on
/// ``DedicatedThreads`` (one per core), not on the runner's cooperative pool, which has a thread
/// fewer than in production.
func registerLedgerVerifyBenchmarks() {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let n = BundleFixture.eventCount

    Benchmark(
        "ledger verify: raw Ed25519 verify, 1 core (\(n) signatures)",
        configuration: VerifyRun.configuration([VerifyRun.eventsPerSecond])
    ) { (benchmark: Benchmark, fixture: BundleFixture) in
        let elapsed = try VerifyRun.raw(fixture)
        benchmark.measurement(VerifyRun.eventsPerSecond, VerifyRun.rate(n, elapsed))
    } setup: {
        try await BundleFixture.load()
    }

    Benchmark(
        "ledger verify: raw Ed25519 verify, \(cores) cores in parallel (\(n) signatures)",
        configuration: VerifyRun.configuration([VerifyRun.eventsPerSecond])
    ) { (benchmark: Benchmark, fixture: BundleFixture) in
        let elapsed = try await VerifyRun.rawParallel(fixture, parallelism: cores)
        benchmark.measurement(VerifyRun.eventsPerSecond, VerifyRun.rate(n, elapsed))
    } setup: {
        try await BundleFixture.load()
    }

    for parallelism in Set([cores, 1]).sorted(by: >) {
        Benchmark(
            "ledger verify: ChainVerifier full verify, \(parallelism) core\(parallelism == 1 ? "" : "s") (\(n) events)",
            configuration: VerifyRun.configuration([VerifyRun.eventsPerSecond])
        ) { (benchmark: Benchmark, fixture: BundleFixture) in
            let elapsed = try await VerifyRun.full(fixture, parallelism: parallelism)
            benchmark.measurement(VerifyRun.eventsPerSecond, VerifyRun.rate(n, elapsed))
        } setup: {
            try await BundleFixture.load()
        }

        Benchmark(
            "ledger verify: AuditBundle parse + verify, \(parallelism) core\(parallelism == 1 ? "" : "s") (\(n) events)",
            configuration: VerifyRun.configuration([VerifyRun.eventsPerSecond])
        ) { (benchmark: Benchmark, fixture: BundleFixture) in
            let started = ContinuousClock.now
            let report = try await DedicatedThreads.run {
                await (try AuditBundle.parse(fixture.bytes)).verify(pinned: fixture.key, options: ChainVerifier.Options(parallelism: parallelism))
            }
            let elapsed = ContinuousClock.now - started
            guard report.isValid, report.eventCount == n else {
                throw BenchmarkFailure("the bundle does not verify: \(report.breaks.prefix(3))")
            }
            benchmark.measurement(VerifyRun.eventsPerSecond, VerifyRun.rate(n, elapsed))
        } setup: {
            try await BundleFixture.load()
        }
    }

    Benchmark(
        "ledger verify: full on \(cores) cores vs raw x \(cores) cores, same iteration (\(n) events)",
        configuration: VerifyRun.configuration(
            [VerifyRun.rawPerSecond, VerifyRun.rawParallelPerSecond, VerifyRun.fullPerSecond, VerifyRun.ratioPerMille,
             VerifyRun.parallelRatioPerMille],
            maxDuration: .seconds(60))
    ) { (benchmark: Benchmark, fixture: BundleFixture) in
        let rawRate = VerifyRun.rate(n, try VerifyRun.raw(fixture))
        let rawParallelRate = VerifyRun.rate(n, try await VerifyRun.rawParallel(fixture, parallelism: cores))
        let fullRate = VerifyRun.rate(n, try await VerifyRun.full(fixture, parallelism: cores))
        benchmark.measurement(VerifyRun.rawPerSecond, rawRate)
        benchmark.measurement(VerifyRun.rawParallelPerSecond, rawParallelRate)
        benchmark.measurement(VerifyRun.fullPerSecond, fullRate)
        benchmark.measurement(VerifyRun.ratioPerMille, fullRate * 1000 / max(1, rawRate * cores))
        benchmark.measurement(VerifyRun.parallelRatioPerMille, fullRate * 1000 / max(1, rawParallelRate))
    } setup: {
        try await BundleFixture.load()
    }
}

enum VerifyRun {
    static let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger, useScalingFactor: false)
    static let rawPerSecond = BenchmarkMetric.custom("raw Ed25519 verifies/s, 1 core", polarity: .prefersLarger, useScalingFactor: false)
    static let rawParallelPerSecond = BenchmarkMetric.custom(
        "raw Ed25519 verifies/s, all cores", polarity: .prefersLarger, useScalingFactor: false)
    static let fullPerSecond = BenchmarkMetric.custom("full verify events/s, all cores", polarity: .prefersLarger, useScalingFactor: false)
    static let ratioPerMille = BenchmarkMetric.custom(
        "full / (raw x cores), per mille", polarity: .prefersLarger, useScalingFactor: false)
    static let parallelRatioPerMille = BenchmarkMetric.custom(
        "full / raw on all cores, per mille", polarity: .prefersLarger, useScalingFactor: false)

    /// `cpuTotal` next to the wall clock: on a loaded machine, CPU time ≈ wall time × cores says
    /// the cores were this process's, CPU time ≈ wall time says they were not.
    static func configuration(_ custom: [BenchmarkMetric], maxDuration: Duration = .seconds(20)) -> Benchmark.Configuration {
        .init(
            metrics: [.wallClock, .cpuTotal] + custom,
            // Rates and ratios as plain numbers, not rounded to thousands.
            units: Dictionary(uniqueKeysWithValues: custom.map { ($0, BenchmarkUnits.count) }),
            warmupIterations: 1,
            scalingFactor: .one,
            maxDuration: maxDuration,
            maxIterations: 15
        )
    }

    static func rate(_ count: Int, _ elapsed: Duration) -> Int {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Int((Double(count) / max(seconds, 1e-9)).rounded())
    }

    /// Every signature, one after the other on the calling thread.
    static func raw(_ fixture: BundleFixture) throws -> Duration {
        let key = fixture.key
        var valid = 0
        let started = ContinuousClock.now
        for (signature, message) in fixture.signed where key.isValidSignature(signature, for: message) {
            valid += 1
        }
        let elapsed = ContinuousClock.now - started
        guard valid == fixture.signed.count else {
            throw BenchmarkFailure("\(fixture.signed.count - valid) of \(fixture.signed.count) signatures do not verify")
        }
        return elapsed
    }

    /// Every signature, in contiguous chunks on `parallelism` tasks (as `ChainVerifier` splits
    /// its work): what the cores can do together on this machine, at this moment.
    static func rawParallel(_ fixture: BundleFixture, parallelism: Int) async throws -> Duration {
        let key = fixture.key
        let signed = fixture.signed
        let chunkCount = max(1, min(signed.count, parallelism * 4))
        let chunkSize = (signed.count + chunkCount - 1) / chunkCount
        let started = ContinuousClock.now
        let valid = try await DedicatedThreads.run {
            await withTaskGroup(of: Int.self) { group in
                for chunk in 0..<chunkCount {
                    let lower = chunk * chunkSize
                    let upper = min(signed.count, lower + chunkSize)
                    guard lower < upper else { continue }
                    group.addTask {
                        var valid = 0
                        for index in lower..<upper where key.isValidSignature(signed[index].signature, for: signed[index].message) {
                            valid += 1
                        }
                        return valid
                    }
                }
                return await group.reduce(0, +)
            }
        }
        let elapsed = ContinuousClock.now - started
        guard valid == signed.count else {
            throw BenchmarkFailure("\(signed.count - valid) of \(signed.count) signatures do not verify")
        }
        return elapsed
    }

    /// `ChainVerifier.verify(texts:)` over the stored texts.
    static func full(_ fixture: BundleFixture, parallelism: Int) async throws -> Duration {
        let verifier = ChainVerifier(identity: fixture.key, options: ChainVerifier.Options(parallelism: parallelism))
        let started = ContinuousClock.now
        let report = try await DedicatedThreads.run { await verifier.verify(texts: fixture.texts) }
        let elapsed = ContinuousClock.now - started
        guard report.isValid, report.eventCount == fixture.texts.count else {
            throw BenchmarkFailure("the chain does not verify: \(report.breaks.prefix(3))")
        }
        return elapsed
    }
}
