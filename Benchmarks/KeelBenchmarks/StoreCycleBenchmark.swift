import Benchmark
import Foundation
import KeelCore
import KeelStore

/// One iteration is what a worker does to start on an item: `claimNext` (a read that finds a
/// candidate, then a write transaction that takes the lease) then the `.claimed` transition (a
/// second write transaction that moves the item to `developing` and writes its `state_transitions`
/// row), on Keel's real `SQLiteStore`. Two commits per cycle.
///
/// Claimed items stay in the table in a claimable state, so every claim's query sees the
/// `warm-up + maxIterations` rows filed in setup: the figure is for a queue about that deep.
///
/// The transition keeps its lease, as `Worker` does. Released, the item would sit in `developing`
/// with no lease, and `claimNext` hands such items out first (a worker died mid-stage), so the next
/// iteration would re-claim it and `.claimed` would be an illegal transition. Held for an hour,
/// the lease keeps every claimed item out of the way and each iteration takes a fresh queued one.
func registerStoreCycleBenchmark() {
    let maxIterations = 2_000
    let directory = ScratchDirectory(label: "store-cycle")

    Benchmark(
        "claim→transition→commit cycle",
        configuration: DurableWriteRun.configuration(maxIterations: maxIterations)
    ) { (benchmark: Benchmark, store: SQLiteStore) in
        for _ in benchmark.scaledIterations {
            try await StoreCycle.run(store)
        }
    } setup: {
        try await directory.create {
            let store = try SQLiteStore(path: directory.path("keel.sqlite"))
            // One item per iteration, warm-up included: every cycle claims a queued item.
            try await StoreCycle.file(DurableWriteRun.warmupIterations + maxIterations, into: store)
            return store
        }
    } teardown: {
        directory.remove()
    }
}

enum StoreCycle {
    static let worker = "bench-worker"
    static let leaseSeconds = 3_600.0

    static func file(_ count: Int, into store: SQLiteStore) async throws {
        let body = String(
            repeating: "Add a --version flag that prints the build's version and exits 0; cover it with a test. ",
            count: 3
        )
        for n in 1...count {
            _ = try await store.createItem(
                NewItem(repo: "bench", title: "Benchmark item \(n)", body: body),
                actor: "bench",
                now: Date()
            )
        }
    }

    static func run(_ store: SQLiteStore) async throws {
        guard let (item, lease) = try await store.claimNext(owner: worker, now: Date(), leaseSeconds: leaseSeconds) else {
            throw BenchmarkFailure("no queued item left to claim: file more items than warm-up plus measured iterations")
        }
        let (started, _) = try await store.transition(
            lease,
            on: .claimed,
            reason: "attempt \(item.attempt + 1): benchmark",
            actor: worker,
            now: Date(),
            changes: ItemChanges(incrementAttempt: true),
            keepLease: true
        )
        guard started.state == .developing, started.attempt == item.attempt + 1 else {
            throw BenchmarkFailure("item #\(started.id) is \(started.state) at attempt \(started.attempt) after .claimed")
        }
        blackHole(started)
    }
}
