import Foundation
import GRDB
import KeelLedger
import KeelStore

/// A Keel store whose ledger holds a little over 1,000,000 signed, linked events, built once and
/// cached (`ledger-1000999-v1.sqlite` and its signing key `ledger-1000999-v1.key`, see
/// ``BenchCache``).
///
/// The schema is the store's own (`SQLiteStore` migrates the file); the rows are written
/// directly, in large transactions with `synchronous = OFF`, because a million durable
/// `createItem` calls would take hours. Each row is what `LedgerAppender` would have written:
/// the event text, its hash, kind, subject, seq and time, with a checkpoint stamp after every
/// 1,000 events (``ChainGenerator``).
///
/// 1,000,999 = 999 × (1,000 events + their checkpoint) + 1,000 events: the tail after the last
/// checkpoint is as long as it ever gets (the store stamps a checkpoint on the next append), so
/// startup verification sees its worst case.
enum MillionEventLedger {
    static let eventCount: Int64 = 1_000_999
    static let checkpointEvery: Int64 = 1000
    static let batch = 10_000

    static var databasePath: String {
        get throws { try BenchCache.path("ledger-\(eventCount)-v1.sqlite") }
    }

    static var keyPath: String {
        get throws { try BenchCache.path("ledger-\(eventCount)-v1.key") }
    }

    /// The database's path and its signing key, building both when they are not cached yet
    /// (a few minutes in release on 2 cores).
    static func prepare() async throws -> (path: String, signer: SigningIdentity) {
        let path = try databasePath
        let keyPath = try keyPath
        if FileManager.default.fileExists(atPath: path), FileManager.default.fileExists(atPath: keyPath) {
            return (path, try KeyFile(path: keyPath).load())
        }
        try? FileManager.default.removeItem(atPath: keyPath)
        let signer = try KeyFile(path: keyPath).loadOrCreate(createdAt: 1_790_000_000)
        try await build(at: path, signer: signer)
        return (path, signer)
    }

    static func build(at path: String, signer: SigningIdentity) async throws {
        let started = ContinuousClock.now
        // Built beside the final file and moved into place only when complete.
        let workDirectory = path + ".building"
        try? FileManager.default.removeItem(atPath: workDirectory)
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let workPath = (workDirectory as NSString).appendingPathComponent("ledger.sqlite")

        // The store's own schema; the store (and its pool) is gone when this returns.
        func migrate() throws { _ = try SQLiteStore(path: workPath) }
        try migrate()

        var configuration = Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = OFF") }
        let queue = try DatabaseQueue(path: workPath, configuration: configuration)
        var generator = ChainGenerator(signer: signer, checkpointEvery: checkpointEvery)
        var planning: Duration = .zero
        var signing: Duration = .zero
        var writing: Duration = .zero
        let clock = ContinuousClock()
        while generator.seq < eventCount {
            let count = Int(min(Int64(batch), eventCount - generator.seq))
            var planned: [ChainGenerator.Planned] = []
            planning += try clock.measure { planned = try generator.plan(count) }
            let t0 = clock.now
            let rows = try await generator.sign(planned)
            signing += clock.now - t0
            writing += try clock.measure {
                try queue.write { db in
                    let insert = try db.makeStatement(
                        sql: "INSERT INTO ledger_events (seq, event, hash, kind, subject, at) VALUES (?, ?, ?, ?, ?, ?)")
                    for row in rows {
                        try insert.execute(arguments: [row.seq, row.stamp.text, row.stamp.hash, row.kind, row.subject, row.at])
                    }
                }
            }
            if generator.seq % 100_000 < Int64(batch) || generator.seq == eventCount {
                benchLog("1M ledger: \(generator.seq)/\(eventCount) events (\(clock.now - started))")
            }
        }
        try await queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try queue.close()

        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: workPath, toPath: path)
        try? FileManager.default.removeItem(atPath: workDirectory)
        benchLog(
            "1M ledger: wrote \(path) in \(clock.now - started) (planning \(planning), signing \(signing), writing \(writing))")
    }
}
