import Foundation
import KeelCore
import KeelLedger
import KeelStore
import KeelTestSupport
import Testing

/// The checkpoint that seals an export, as the store stamps it: in the ledger, after the head's
/// check, exactly once for an unchanged ledger.
@Suite struct ExportSealStoreTests {
    let dir: TemporaryDirectory
    var path: String { dir.path + "/keel.sqlite" }
    let clock = ManualWallClock()
    let signer = SigningIdentity.generate(createdAt: 1_790_000_000)

    init() throws { dir = try TemporaryDirectory(prefix: "keel-export-seal") }

    func store(checkpointEvery: Int64 = 1000) throws -> SQLiteStore {
        try SQLiteStore(path: path, ledger: LedgerSettings(signer: signer, checkpointEvery: checkpointEvery, checkpointSeconds: 3600))
    }

    func submit(_ store: SQLiteStore, _ count: Int) async throws {
        for index in 0..<count {
            _ = try await store.createItem(NewItem(repo: "r", title: "t\(index)", body: "b"), actor: "t", now: clock.now())
        }
    }

    /// The export as `keel ledger export` writes it, verified pinned to the signer.
    func verifiedBundle(_ export: SealedExport) async throws -> BundleReport {
        let stamps = try export.events.map { try Stamp.parse($0.event) }
        let bytes = try AuditBundle.export(identity: signer.document, events: stamps, exportedAt: 1_790_000_100)
        return try await AuditBundle.parse(bytes).verify(pinned: signer.key)
    }

    @Test func theSealIsStampedIntoTheLedgerAndTheExportEndsWithIt() async throws {
        let store = try store()
        try await submit(store, 4)
        let export = try await store.sealExport(now: clock.now())
        #expect(!export.reused && export.size == 4 && export.seal.seq == 5 && export.seal.kind == "checkpoint")
        #expect(export.events.map(\.seq) == Array(1...5))
        #expect(try await store.ledgerCount() == 5)
        let seal = try Stamp.parse(export.seal.event)
        #expect(seal.payload["scope"] == "export" && seal.payload["size"] == 4 && seal.payload["head_hash"]?.stringValue == export.events[3].hash)

        let report = try await verifiedBundle(export)
        #expect(report.isValid, "\(report.breaks)")
        #expect(report.seal?.size == 4)

        // Nothing new: the head's seal is reused. Something new: a new seal after it.
        let again = try await store.sealExport(now: clock.now())
        #expect(again.reused && again.seal.seq == 5 && again.events.count == 5)
        try await submit(store, 1)
        let later = try await store.sealExport(now: clock.now())
        #expect(!later.reused && later.seal.seq == 7 && later.size == 6)
        #expect(try await verifiedBundle(later).isValid)
    }

    @Test func aPeriodicCheckpointAtTheHeadIsNotTakenForASeal() async throws {
        let store = try store(checkpointEvery: 2)
        try await submit(store, 2)
        #expect(try await store.ledgerEvents(after: 0, limit: nil).last?.kind == "checkpoint")
        let export = try await store.sealExport(now: clock.now())
        #expect(!export.reused && export.seal.seq == 4 && export.size == 3)
        #expect(try await verifiedBundle(export).isValid)
    }

    @Test func anEmptyLedgerIsSealedAtItsGenesis() async throws {
        let store = try store()
        let export = try await store.sealExport(now: clock.now())
        #expect(export.seal.seq == 1 && export.size == 0 && export.events.count == 1)
        #expect(try Stamp.parse(export.seal.event).payload["head_hash"]?.stringValue == signer.key.genesisHash)
        let report = try await verifiedBundle(export)
        #expect(report.isValid && report.seal?.size == 0, "\(report.breaks)")
    }

    @Test func aDamagedHeadIsStampedAsABreakBeforeTheSeal() async throws {
        let store = try store()
        try await submit(store, 3)
        // The head's stored hash no longer matches its text.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", path,
            "UPDATE ledger_events SET hash = '\(String(repeating: "0", count: 64))' WHERE seq = 3",
        ]
        try process.run()
        try await offPool { process.waitUntilExit() }
        try #require(process.terminationStatus == 0)

        let export = try await store.sealExport(now: clock.now())
        #expect(export.events.map(\.kind).suffix(2) == ["chain_break_detected", "checkpoint"], "\(export.events.map(\.kind))")
        #expect(!export.reused && export.size == Int64(export.events.count - 1))
        #expect(try await store.ledgerBreaks().map(\.kind) == ["hash_mismatch"])
    }
}
