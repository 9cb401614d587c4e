import Benchmark
import Foundation
import KeelCore
import KeelLedger
import KeelPipeline
import KeelStore

/// Startup verification with 1,000,999 events in the ledger (``MillionEventLedger``): what
/// `keel run` does before it starts work. The aim is under 200 ms: the design reads only the last
/// checkpoint and the events after it (here 1,000, the most there can be).
///
/// Next to `LedgerService.startup()` and `verifyIncrementally()`, the store calls they are made
/// of are timed on their own, so that a slow one can be named: `lastCheckpoint()`,
/// `ledgerCount()`, reading every event (what `LedgerService.knownKeys()` does to find key
/// rotations) and the checkpoint tail alone (read + `ChainVerifier.verify(texts:from:)`).
///
/// Verification runs on ``DedicatedThreads``, as many as the machine has cores (see there why).
///
/// The store file is opened once per benchmark, in setup; no benchmark writes to it (a clean
/// ledger records no breaks), so the cached file stays as built.
///
/// `KEEL_BENCH_FULL_1M=1` adds the full check (`LedgerService.verifyAll()`, what
/// `keel ledger verify` does) of all 1,000,999 events: about a minute per iteration.
func registerLedgerStartupBenchmarks() {
    let tail = Int(MillionEventLedger.checkpointEvery) + 1  // the checkpoint and the events after it

    Benchmark(
        "ledger startup: LedgerService.startup(), 1M events",
        configuration: StartupRun.configuration()
    ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
        let verification = try await DedicatedThreads.run { try await ledger.service().startup() }
        try StartupRun.check(verification, checked: tail)
    } setup: {
        try await StartupRun.Ledger.open()
    }

    Benchmark(
        "ledger startup: LedgerService.verifyIncrementally(), 1M events",
        configuration: StartupRun.configuration()
    ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
        let verification = try await DedicatedThreads.run { try await ledger.service().verifyIncrementally() }
        try StartupRun.check(verification, checked: tail)
    } setup: {
        try await StartupRun.Ledger.open()
    }

    Benchmark(
        "ledger startup part: store.lastCheckpoint(), 1M events",
        configuration: StartupRun.configuration()
    ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
        guard let checkpoint = try await ledger.store.lastCheckpoint(), checkpoint.kind == Checkpoint.eventType else {
            throw BenchmarkFailure("the 1M ledger has no checkpoint")
        }
        blackHole(checkpoint)
    } setup: {
        try await StartupRun.Ledger.open()
    }

    Benchmark(
        "ledger startup part: store.ledgerCount(), 1M events",
        configuration: StartupRun.configuration()
    ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
        let count = try await ledger.store.ledgerCount()
        guard count == MillionEventLedger.eventCount else {
            throw BenchmarkFailure("the ledger holds \(count) events, not \(MillionEventLedger.eventCount)")
        }
    } setup: {
        try await StartupRun.Ledger.open()
    }

    Benchmark(
        "ledger startup part: store.ledgerEvents(after: 0) (every event, as knownKeys() reads them), 1M events",
        configuration: StartupRun.configuration()
    ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
        let all = try await ledger.store.ledgerEvents(after: 0, limit: nil)
        guard all.count == Int(MillionEventLedger.eventCount) else {
            throw BenchmarkFailure("read \(all.count) events, not \(MillionEventLedger.eventCount)")
        }
        blackHole(all)
    } setup: {
        try await StartupRun.Ledger.open()
    }

    Benchmark(
        "ledger startup part: checkpoint tail only (lastCheckpoint + read + ChainVerifier from checkpoint), 1M events",
        configuration: StartupRun.configuration()
    ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
        try await DedicatedThreads.run {
            guard let checkpoint = try await ledger.store.lastCheckpoint() else { throw BenchmarkFailure("the 1M ledger has no checkpoint") }
            let after = try await ledger.store.ledgerEvents(after: checkpoint.seq, limit: nil)
            let stamp = try Stamp.parse(checkpoint.event)
            let key = ledger.signer.key
            guard stamp.isSigned(by: key), stamp.hash == checkpoint.hash else { throw BenchmarkFailure("the checkpoint does not verify") }
            let report = await ChainVerifier(identity: key).verify(
                texts: after.map(\.event), from: Checkpoint(trusting: stamp, at: Int(checkpoint.seq - 1), signer: key))
            guard report.isValid, after.count + 1 == tail else {
                throw BenchmarkFailure("tail of \(after.count) events after seq \(checkpoint.seq): \(report.breaks.prefix(3))")
            }
        }
    } setup: {
        try await StartupRun.Ledger.open()
    }

    if ProcessInfo.processInfo.environment["KEEL_BENCH_FULL_1M"] != nil {
        Benchmark(
            "ledger full verify: LedgerService.verifyAll(), 1M events",
            configuration: .init(
                metrics: [.wallClock, .peakMemoryResident], warmupIterations: 0, scalingFactor: .one, maxDuration: .seconds(1),
                maxIterations: 1)
        ) { (benchmark: Benchmark, ledger: StartupRun.Ledger) in
            let verification = try await DedicatedThreads.run { try await ledger.service().verifyAll() }
            try StartupRun.check(verification, checked: Int(MillionEventLedger.eventCount))
        } setup: {
            try await StartupRun.Ledger.open()
        }
    }
}

enum StartupRun {
    static func configuration() -> Benchmark.Configuration {
        .init(
            metrics: [.wallClock, .peakMemoryResident],
            warmupIterations: 1,
            scalingFactor: .one,
            maxDuration: .seconds(30),
            maxIterations: 30
        )
    }

    /// The cached 1M-event store, opened with its signing key.
    struct Ledger: Sendable {
        let store: SQLiteStore
        let signer: SigningIdentity

        static func open() async throws -> Ledger {
            let (path, signer) = try await MillionEventLedger.prepare()
            let store = try SQLiteStore(path: path, ledger: LedgerSettings(signer: signer, checkpointEvery: MillionEventLedger.checkpointEvery))
            return Ledger(store: store, signer: signer)
        }

        /// A service as `keel run` makes one, without backup or alert channels.
        func service() -> LedgerService {
            LedgerService(
                store: store, signer: signer, backup: nil, alerts: nil, publicURL: "http://127.0.0.1:8080", clock: SystemWallClock(),
                events: .none)
        }
    }

    /// A clean ledger verifies without findings, from the last checkpoint (not from the start).
    static func check(_ verification: LedgerService.Verification, checked: Int) throws {
        guard verification.found.isEmpty else {
            throw BenchmarkFailure("verification found \(verification.found.count) problems: \(verification.found.prefix(3))")
        }
        guard verification.checked == checked else {
            throw BenchmarkFailure("verification read \(verification.checked) events, expected \(checked)")
        }
    }
}
