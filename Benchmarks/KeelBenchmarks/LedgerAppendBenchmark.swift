import Benchmark
import Foundation
import KeelCore
import KeelLedger
import KeelStore

/// Durable ledger appends: one `createItem` per iteration on the real `SQLiteStore` (WAL,
/// `synchronous = FULL`, one write transaction), with and without a ledger. With one, the same
/// transaction also checks the head (parse, hash, signature: O(1)), signs a `state_transition`
/// stamp, inserts it and looks for a due checkpoint (one every 1,000 events), so the difference
/// between the two is what an append costs on top of the write it records.
func registerLedgerAppendBenchmarks() {
    registerCreateItemBenchmark("ledger append: createItem + 1 stamp (durable)", ledger: true)
    registerCreateItemBenchmark("ledger append: createItem, no ledger (durable)", ledger: false)
}

private func registerCreateItemBenchmark(_ name: String, ledger: Bool) {
    let directory = ScratchDirectory(label: ledger ? "append-ledger" : "append-plain")

    Benchmark(
        name,
        configuration: DurableWriteRun.configuration(maxIterations: 5_000)
    ) { (benchmark: Benchmark, store: SQLiteStore) in
        for _ in benchmark.scaledIterations {
            blackHole(try await store.createItem(LedgerAppend.item, actor: "bench", now: Date()))
        }
    } setup: {
        try await directory.create {
            let settings = ledger ? LedgerSettings(signer: SigningIdentity.generate(createdAt: 1_790_000_000), checkpointEvery: 1000) : nil
            return try SQLiteStore(path: directory.path("keel.sqlite"), ledger: settings)
        }
    } teardown: {
        directory.remove()
    }
}

enum LedgerAppend {
    static let item = NewItem(
        repo: "bench", title: "Benchmark item",
        body: "Add a --version flag that prints the build's version and exits 0; cover it with a test.")
}
