import AsyncHTTPClient
import Foundation
import KeelCore
import KeelGit
import KeelLedger
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// The tamper suite around a running ledger: what startup, full verification and the backup catch.
@Suite struct LedgerServiceTests {
    let tmp: TemporaryDirectory
    let clock = ManualWallClock()
    let signer = SigningIdentity.generate(createdAt: 1_790_000_000)

    init() throws { tmp = try TemporaryDirectory(prefix: "keel-ledger-svc") }

    func store(_ name: String = "keel.sqlite", every: Int64 = 1000) throws -> SQLiteStore {
        try SQLiteStore(path: tmp.path(name), ledger: LedgerSettings(signer: signer, checkpointEvery: every))
    }

    func service(_ store: SQLiteStore, backup: LedgerBackup? = nil, alerts: AlertDispatcher? = nil) -> LedgerService {
        LedgerService(store: store, signer: signer, backup: backup, alerts: alerts, publicURL: "http://keel.test", clock: clock, events: .none)
    }

    func fill(_ store: SQLiteStore, _ n: Int) async throws {
        for i in 0..<n { _ = try await store.createItem(NewItem(repo: "r", title: "item \(i)", body: "b"), actor: "t", now: clock.now()) }
    }

    func tamper(_ sql: String, in name: String = "keel.sqlite") async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", tmp.path(name), sql]
        try process.run()
        // Waited for off the cooperative pool: blocking one of its threads holds back other tests' timers.
        try await offPool { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
    }

    /// Every kind found, including the ones folded into a break by the same incident.
    func kinds(_ v: LedgerService.Verification) -> Set<String> {
        var all = Set(v.found.map(\.kind))
        for b in v.found {
            for kind in ["seq_gap", "hash_mismatch", "bad_signature", "unknown_key", "fork", "duplicate_nonce", "malformed_event"]
            where b.message.contains("also \(kind) at seq") {
                all.insert(kind)
            }
        }
        return all
    }

    @Test func anIntactLedgerVerifiesCleanIncrementallyAndInFull() async throws {
        let store = try store(every: 10)
        try await fill(store, 35)
        let svc = service(store)
        let startup = try await svc.startup()
        #expect(startup.found.isEmpty)
        #expect(startup.from == 33, "startup starts at the last checkpoint, not at the genesis")
        #expect(startup.checked <= 11)
        let full = try await svc.verifyAll()
        #expect(full.found.isEmpty && full.checked == 38)
        #expect(try await store.ledgerStatus(now: clock.now()) == .valid)
    }

    @Test func aClearedTimeoutInTheBreakRowDoesNotStampASecondTimeout() async throws {
        let store = try store()
        try await fill(store, 3)
        try await tamper("UPDATE ledger_events SET event = replace(event, '\"nonce\":\"', '\"nonce\":\"0') WHERE seq = 2")
        let found = try await service(store).verifyAll()
        let brk = try #require(found.newBreaks.first)
        clock.advance(by: 73 * 3600)
        #expect(try await store.stampTimeouts(now: clock.now()).map(\.id) == [brk.id])
        // Someone with the database clears the row's timeout (and sets its deadline ahead).
        try await tamper("UPDATE ledger_breaks SET timeout_seq = NULL, deadline = '2999-01-01T00:00:00.000Z'")
        #expect(try await store.stampTimeouts(now: clock.now()).isEmpty, "a second timeout_no_action was stamped")
        let timeouts = try await store.ledgerEvents(after: 0, limit: nil).filter { $0.kind == "timeout_no_action" }
        #expect(timeouts.count == 1)
        #expect(try await store.ledgerStatus(now: clock.now()) == .brokenDeclared)
        // The full verify finds the edited row and rebuilds it from the stamps.
        let again = try await service(store).verifyAll()
        #expect(again.newBreaks.map(\.kind) == ["break_record_mismatch"])
        #expect(try await store.ledgerBreak(brk.id)?.timeoutSeq == timeouts.first?.seq)
    }

    @Test func aValidationAfterTheTimeoutLeavesTheChainBrokenDeclared() async throws {
        let store = try store()
        try await fill(store, 3)
        try await tamper("UPDATE ledger_events SET event = replace(event, '\"nonce\":\"', '\"nonce\":\"0') WHERE seq = 2")
        let brk = try #require(try await service(store).verifyAll().newBreaks.first)
        clock.advance(by: 73 * 3600)
        _ = try await store.stampTimeouts(now: clock.now())
        let decided = try await store.resolveBreak(brk.id, decision: .validate, by: "ann", note: "late", now: clock.now())
        #expect(decided.decision == "validate" && decided.timeoutSeq != nil)
        #expect(try await store.ledgerStatus(now: clock.now()) == .brokenDeclared, "a late validation cleared a timed-out break")
    }

    @Test func aDeletedEventIsCaught() async throws {
        let store = try store()
        try await fill(store, 6)
        try await tamper("DELETE FROM ledger_events WHERE seq = 3")
        let v = try await service(store).verifyAll()
        #expect(kinds(v).contains("seq_gap") && kinds(v).contains("hash_mismatch"))
        #expect(v.newBreaks.count == 1, "one deleted event is one incident for a person: \(v.newBreaks.map(\.message))")
        #expect(try await store.ledgerStatus(now: clock.now()) == .breakPending)
    }

    @Test func swappedEventsAreCaught() async throws {
        let store = try store()
        try await fill(store, 6)
        try await tamper("""
            UPDATE ledger_events SET seq = -1 WHERE seq = 2;
            UPDATE ledger_events SET seq = 2 WHERE seq = 3;
            UPDATE ledger_events SET seq = 3 WHERE seq = -1;
            """)
        let v = try await service(store).verifyAll()
        #expect(kinds(v).contains("seq_gap") && kinds(v).contains("hash_mismatch"))
    }

    @Test func aDuplicatedEventIsCaught() async throws {
        let store = try store()
        try await fill(store, 4)
        try await tamper("INSERT INTO ledger_events (seq, event, hash, kind, subject, at) SELECT 5, event, hash, kind, subject, at FROM ledger_events WHERE seq = 4")
        let v = try await service(store).verifyAll()
        #expect(!kinds(v).isDisjoint(with: ["fork", "duplicate_nonce"]), "\(kinds(v))")
    }

    @Test func anEventReSignedWithAForeignKeyIsCaught() async throws {
        let store = try store()
        try await fill(store, 4)
        let events = try await store.ledgerEvents(after: 0, limit: nil)
        let original = try Stamp.parse(events[2].event)
        var payload = original.payload
        payload["reason"] = .string("approved by the intruder")
        let forged = try Stamper.stamp(
            payload: payload, previousHash: original.previousHash, signer: SigningIdentity.generate(createdAt: 1), timestamp: original.timestamp, nonce: UUID())
        let escaped = forged.text.replacingOccurrences(of: "'", with: "''")
        try await tamper("UPDATE ledger_events SET event = '\(escaped)', hash = '\(forged.hash)' WHERE seq = 3")
        let v = try await service(store).verifyAll()
        #expect(kinds(v).contains("unknown_key") || kinds(v).contains("bad_signature"), "\(kinds(v))")
        #expect(v.found.contains { $0.seq == 3 })
    }

    @Test func aTornLastWriteIsCaughtAtStartup() async throws {
        let store = try store()
        try await fill(store, 4)
        try await tamper("UPDATE ledger_events SET event = substr(event, 1, 40) WHERE seq = 4")
        let v = try await service(store).startup()
        #expect(kinds(v).contains("malformed_event"), "\(kinds(v))")
        // The next change still lands, after the flagged event.
        _ = try await store.createItem(NewItem(repo: "r", title: "after", body: "b"), actor: "t", now: clock.now())
        #expect(try await store.ledgerBreaks().contains { $0.kind == "torn_write" || $0.kind == "malformed_event" })
    }

    @Test func aTruncatedTailIsCaughtAgainstTheBackup() async throws {
        let remote = tmp.path("backup.git")
        try await Git().initBare(at: remote)
        let backup = LedgerBackup(remote: remote, workDirectory: tmp.path("bk"))
        let store = try store()
        try await fill(store, 20)
        try await service(store, backup: backup).backupNow()
        try await tamper("DELETE FROM ledger_events WHERE seq > 17")
        let v = try await service(store, backup: backup).startup()
        #expect(kinds(v).contains("truncation"), "\(kinds(v))")
        let b = try #require(try await store.ledgerBreaks().first { $0.kind == "truncation" })
        #expect(b.expected.hasPrefix("20 events") && b.found == "17 events")
        // The backup was not overwritten by the shorter store.
        #expect(try await backup.fetchHead()?.size == 20)
    }

    @Test func aRolledBackStoreIsCaughtAgainstTheBackup() async throws {
        let remote = tmp.path("backup.git")
        try await Git().initBare(at: remote)
        let backup = LedgerBackup(remote: remote, workDirectory: tmp.path("bk"))
        do {
            let store = try store()
            try await fill(store, 10)
        }
        // An operator keeps a copy of the database...
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: tmp.path("keel.sqlite" + suffix)) {
            try FileManager.default.copyItem(atPath: tmp.path("keel.sqlite" + suffix), toPath: tmp.path("old.sqlite" + suffix))
        }
        do {
            let store = try store()
            try await fill(store, 10)
            try await service(store, backup: backup).backupNow()
        }
        // ...restores it later, and work goes on past the backup's length.
        let rolledBack = try store("old.sqlite")
        try await fill(rolledBack, 15)
        let v = try await service(rolledBack, backup: backup).startup()
        #expect(kinds(v).contains("rollback"), "\(kinds(v))")
    }

    @Test func aColdStartRestoresFromTheBackupWithoutAlertingAgain() async throws {
        try await LoopbackHTTPServer.withServer { hook in
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let alerts = AlertDispatcher(channels: [WebhookChannel(url: hook.url + "/keel", httpClient: client)])
            let remote = tmp.path("backup.git")
            try await Git().initBare(at: remote)

            // The first machine: a break, alerted with a link to its page, then validated by a person.
            let first = try store()
            try await fill(first, 5)
            let svc = service(first, backup: LedgerBackup(remote: remote, workDirectory: tmp.path("bk1")), alerts: alerts)
            let found = try await first.recordBreaks([DetectedBreak(seq: 3, kind: "hash_mismatch", expected: "a", found: "b", message: "restart orphaned an event")], now: clock.now())
            await svc.tick()
            #expect(hook.requests.count == 1)
            let sent = try #require(hook.requests.first?.text)
            #expect(sent.contains("http://keel.test/breaks/\(found[0].id)"))
            _ = try await first.resolveBreak(found[0].id, decision: .validate, by: "ann", note: "deploy restart", now: clock.now())
            try await svc.backupNow()

            // A new machine with an empty store.
            let second = try store("fresh.sqlite")
            let restoredSvc = service(second, backup: LedgerBackup(remote: remote, workDirectory: tmp.path("bk2")), alerts: alerts)
            let v = try await restoredSvc.startup()
            let count = try await first.ledgerCount()
            #expect(v.restored == Int(count))
            #expect(v.found.isEmpty, "\(v.found)")
            #expect(try await second.ledgerStatus(now: clock.now()) == .valid)
            #expect(try await second.ledgerBreaks().map(\.decidedBy) == ["ann"])
            #expect(hook.requests.count == 1, "no second alert for a break already resolved")
            try await client.shutdown()
        }
    }
}
