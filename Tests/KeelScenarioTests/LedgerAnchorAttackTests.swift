import Foundation
import KeelAgents
import KeelLedger
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10's attacks on the ledger, each by someone who can write Keel's database file but
/// cannot read its signing key, run against a real project `keel demo` built and answered by the
/// real `keel` binary. Every one of them verified as valid before the trust anchor.
@Suite struct LedgerAnchorAttackTests {
    // MARK: 1. A full rewrite

    @Test func aChainReSignedUnderAnotherKeyAndHandedBackToKeelsKeyIsBrokenEverywhere() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-rewrite") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let real = try AgentKey(base64: try await demo.identity().publicKey)
            let original = try await demo.events()

            // The forger's own key X re-signs every event but one (a cost), renumbered so that seq
            // stays contiguous, adds an X-signed checkpoint, and hands over to Keel's real key.
            let forger = SigningIdentity.generate(createdAt: 1_700_000_000)
            var forged: [Stamp] = []
            var previous = forger.key.genesisHash
            func sign(_ payload: JSONObject, at timestamp: Int64) throws {
                let stamp = try Stamper.stamp(payload: payload, previousHash: previous, signer: forger, timestamp: timestamp, nonce: UUID())
                forged.append(stamp)
                previous = stamp.hash
            }
            for stamp in original where stamp.seq != 10 {
                var payload = stamp.payload
                payload["seq"] = .integer(Int64(forged.count + 1))
                try sign(payload, at: stamp.timestamp)
            }
            let last = forged.last!.timestamp
            try sign(Checkpoint.payload(seq: Int64(forged.count + 1), size: Int64(forged.count), headHash: previous), at: last)
            try sign(KeyRotation(previous: forger.key, next: real, rotationTimestamp: last).payload(seq: Int64(forged.count + 1)), at: last)
            try await demo.replaceLedger(with: forged)

            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(1), "a re-signed chain verified:\n\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("genesis_mismatch") || verify.stdout.contains("unknown_key"), "\(verify.stdout)")
            #expect(!verify.stdout.contains("intact"))

            // Keel does not keep signing on top of the forgery as if it were its own chain.
            let status = try await demo.status()
            #expect(status.status != "valid", "the status after a rewrite: \(status.status)")
            let startup = try await demo.startupLine(in: tmp)
            #expect(startup.contains("audit ledger") && !startup.contains("audit ledger valid"), "keel run said: \(startup)")
        }
    }

    @Test func keelRunDoesNotTrustAForgedChainAtStartupEither() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-rewrite-run") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let original = try await demo.events()
            let forger = SigningIdentity.generate(createdAt: 1_700_000_000)
            var previous = forger.key.genesisHash
            var forged: [Stamp] = []
            for stamp in original {
                let next = try Stamper.stamp(payload: stamp.payload, previousHash: previous, signer: forger, timestamp: stamp.timestamp, nonce: UUID())
                forged.append(next)
                previous = next.hash
            }
            try await demo.replaceLedger(with: forged)
            let startup = try await demo.startupLine(in: tmp)
            #expect(startup.contains("audit ledger break_pending"), "keel run said: \(startup)")
        }
    }

    // MARK: 2. A decision nobody made

    @Test func aBreakRowWrittenWithAValidationDoesNotValidateTheBreak() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-decision") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            try await demo.tamper(seq: 3)

            // The attacker learns the row Keel would write by trying on a copy, then writes it
            // into the real store already validated by "ann".
            let rehearsal = LedgerDemo(dir: tmp.path("rehearsal"))
            try FileManager.default.copyItem(atPath: demo.dir, toPath: rehearsal.dir)
            _ = try await rehearsal.keel(["ledger", "verify"])
            #expect(try await rehearsal.sql("SELECT COUNT(*) FROM ledger_breaks") == "1\n")
            let copy = try await python(
                """
                import sqlite3, sys
                db = sqlite3.connect(sys.argv[1])
                db.execute("ATTACH DATABASE ? AS rehearsal", (sys.argv[2],))
                db.execute("INSERT INTO ledger_breaks (id, seq, kind, expected, found, message, fingerprint, evidence, detected_at, "
                           "deadline, decision, decided_by, decided_at, note) "
                           "SELECT id, seq, kind, expected, found, message, fingerprint, evidence, detected_at, deadline, "
                           "'validate', 'ann', detected_at, 'explained' FROM rehearsal.ledger_breaks")
                db.commit()
                """, [demo.database, rehearsal.database], in: tmp.path)
            try #require(copy.outcome.termination == .exited(0), "\(copy.stderr)")

            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(1), "\(verify.stdout)\(verify.stderr)")
            #expect(!verify.stdout.contains("validated by ann"), "\(verify.stdout)")
            // The break is detected and stamped, and so is the row nobody stamped.
            #expect(try await demo.count(kind: "chain_break_detected") >= 2)
            let status = try await demo.status()
            #expect(status.status == "break_pending", "status: \(status.status)")
            #expect(status.breaks.contains { $0.kind == "break_record_mismatch" })
            #expect(status.breaks.allSatisfy { $0.decision == nil }, "\(status.breaks)")
        }
    }

    @Test func editingABreakRowChangesNothingItsStampsSay() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-row") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            try await demo.tamper(seq: 3)
            let found = try await demo.keel(["ledger", "verify"])
            #expect(found.outcome.termination == .exited(1))
            let stamped = try #require(try await demo.status().breaks.first)

            // A decision and a deadline written into the row, behind Keel's back.
            try await demo.execute(
                "UPDATE ledger_breaks SET decision = 'validate', decided_by = 'ann', decided_at = detected_at, deadline = '2999-01-01T00:00:00.000Z' WHERE id = ?",
                [String(stamped.id)])
            let status = try await demo.status()
            #expect(status.status == "break_pending", "a row edit changed the status: \(status.status)")
            let shown = try #require(status.breaks.first { $0.id == stamped.id })
            #expect(shown.decision == nil && shown.deadline == stamped.deadline, "\(shown)")
            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(1))
            let afterVerify = try await demo.status()
            #expect(afterVerify.breaks.contains { $0.kind == "break_record_mismatch" }, "\(afterVerify.breaks)")
            let rebuilt = try await demo.sql("SELECT decision, deadline FROM ledger_breaks WHERE id = \(stamped.id)")
            #expect(rebuilt == "|\(stamped.deadline)\n", "the row was not rebuilt from its stamps: \(rebuilt)")

            // A real decision; then the row's decision is cleared to let a second one in.
            let resolve = try await demo.keel(["ledger", "resolve", String(stamped.id), "--decision", "validate", "--by", "ann"])
            #expect(resolve.outcome.termination == .exited(0), "\(resolve.stdout)\(resolve.stderr)")
            try await demo.execute("UPDATE ledger_breaks SET decision = NULL, decided_by = NULL WHERE id = ?", [String(stamped.id)])
            let second = try await demo.keel(["ledger", "resolve", String(stamped.id), "--decision", "reject", "--by", "mallory"])
            #expect(second.outcome.termination == .exited(1), "a second decision was taken:\n\(second.stdout)")
            #expect(second.stderr.contains("already decided"), "\(second.stderr)")
            #expect(try await demo.count(kind: "chain_break_resolution") == 1)
            #expect(try await demo.status().breaks.first { $0.id == stamped.id }?.decision == "validate")
        }
    }

    // MARK: 3. A relabelled checkpoint

    @Test func aRowRelabelledCheckpointDoesNotShortenStartupVerification() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-checkpoint") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            #expect(try await demo.count(kind: "checkpoint") == 0)
            try await demo.tamper(seq: 20)
            try await demo.execute("UPDATE ledger_events SET kind = 'checkpoint' WHERE seq = 45", [])
            let startup = try await demo.startupLine(in: tmp)
            #expect(startup.contains("audit ledger break_pending") && startup.contains("from seq 0"), "keel run said: \(startup)")
            let breaks = try await demo.status().breaks
            #expect(breaks.contains { $0.seq == 20 }, "\(breaks)")
            #expect(breaks.contains { $0.seq == 45 && $0.kind == "column_mismatch" }, "\(breaks)")
        }
    }

    // MARK: 4. Unsigned columns

    @Test(arguments: [
        ("subject", "UPDATE ledger_events SET subject = 'item:9' WHERE seq = 5"),
        ("kind", "UPDATE ledger_events SET kind = 'human_decision' WHERE seq = 7"),
        ("at", "UPDATE ledger_events SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 8"),
        ("seq", "UPDATE ledger_events SET seq = seq + 1 WHERE seq = (SELECT MAX(seq) FROM ledger_events)"),
        ("pretty-printed text", "UPDATE ledger_events SET event = replace(event, '\",\"', '\", \"') WHERE seq = 6"),
        ("re-escaped text", "UPDATE ledger_events SET event = replace(event, '\"nonce\"', '\"\\u006eonce\"') WHERE seq = 11"),
    ])
    func aColumnOrTextThatNoLongerSaysWhatTheSignedEventSaysIsABreak(what: String, edit: String) async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-column") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            try await demo.execute(edit, [])
            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(1), "editing \(what) verified:\n\(verify.stdout)\(verify.stderr)")
            #expect(!verify.stdout.contains("intact"), "\(verify.stdout)")
            let status = try await demo.status()
            #expect(status.status == "break_pending", "after editing \(what): \(status.status)")
        }
    }

    // MARK: 6. A lost key

    @Test func aLostSigningKeyIsRefusedNotReplaced() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-key") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            try FileManager.default.removeItem(atPath: demo.key)
            for command in [["ledger", "status"], ["ledger", "verify"], ["status"]] {
                let run = try await demo.keel(command)
                #expect(run.outcome.termination == .exited(1), "keel \(command) with no key:\n\(run.stdout)\(run.stderr)")
                #expect(run.stderr.contains("signing key") && run.stderr.contains("missing") && run.stderr.contains("rotate-key"), "\(run.stderr)")
                #expect(run.stderr.contains(identity.agentID), "the refusal names the key to restore: \(run.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: demo.key), "a new key was made for a ledger that has one")
            let startup = try await demo.startupLine(in: tmp)
            #expect(startup.contains("missing"), "keel run said: \(startup)")
            #expect(!FileManager.default.fileExists(atPath: demo.key))
            #expect(try await demo.count(kind: "chain_break_detected") == 0)
        }
    }

    @Test func theGenesisKeyIsPinnedOutsideTheDatabase() async throws {
        try await withTemporaryDirectory(prefix: "keel-attack-pin") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            let genesis = demo.dir + "/.keel/ledger/signing-key.genesis.json"
            #expect(try String(contentsOfFile: genesis, encoding: .utf8).contains(identity.publicKey))

            // keel.yml may pin it too; a pin that disagrees with the genesis file is refused.
            let other = SigningIdentity.generate(createdAt: 1_700_000_000).key.base64
            let config = try String(contentsOfFile: demo.config, encoding: .utf8)
            try (config + "\nledger:\n  public_key: \"\(other)\"\n").write(toFile: demo.config, atomically: true, encoding: .utf8)
            let refused = try await demo.keel(["ledger", "status"])
            #expect(refused.outcome.termination == .exited(1) && refused.stderr.contains("public_key"), "\(refused.stdout)\(refused.stderr)")
            try (config + "\nledger:\n  public_key: \"\(identity.publicKey)\"\n").write(toFile: demo.config, atomically: true, encoding: .utf8)
            let pinned = try await demo.keel(["ledger", "verify"])
            #expect(pinned.outcome.termination == .exited(0), "\(pinned.stdout)\(pinned.stderr)")
        }
    }
}

extension LedgerDemo {
    /// Changes the stored text of the event at `seq` (one character more in its nonce), behind
    /// Keel's back: its signature no longer verifies.
    func tamper(seq: Int64) async throws {
        try await edit(seq: seq, replacing: #""nonce":""#, with: #""nonce":"0"#)
    }

    /// Runs one SQL statement with `arguments` against the store, as someone with the file could
    /// (Python's sqlite3, not Keel).
    func execute(_ statement: String, _ arguments: [String]) async throws {
        let run = try await python(
            """
            import json, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute(sys.argv[2], json.loads(sys.argv[3]))
            db.commit()
            """, [database, statement, String(decoding: try JSONEncoder().encode(arguments), as: UTF8.self)], in: dir)
        try #require(run.outcome.termination == .exited(0), "\(statement): \(run.stderr)")
    }

    /// Every stamp of the ledger, in seq order.
    func events() async throws -> [Stamp] {
        let run = try await python(
            """
            import json, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(json.dumps([row[0] for row in db.execute("SELECT event FROM ledger_events ORDER BY seq")]))
            """, [database], in: dir)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
        return try JSONDecoder().decode([String].self, from: Data(run.stdout.utf8)).map { try Stamp.parse($0) }
    }

    /// Replaces every row of `ledger_events` with `stamps`, every column filled in as Keel fills it.
    func replaceLedger(with stamps: [Stamp]) async throws {
        let rows = stamps.enumerated().map { index, stamp in
            [
                String(index + 1), stamp.text, stamp.hash, stamp.eventType ?? "",
                LedgerRowCheck.subject(kind: stamp.eventType, payload: stamp.payload) ?? "", Timestamp.text(LedgerRowCheck.at(stamp)),
            ]
        }
        let file = dir + "/forged-ledger.json"
        try JSONEncoder().encode(rows).write(to: URL(fileURLWithPath: file))
        let run = try await python(
            """
            import json, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("DELETE FROM ledger_events")
            for seq, event, hash, kind, subject, at in json.load(open(sys.argv[2], encoding="utf-8")):
                db.execute("INSERT INTO ledger_events (seq, event, hash, kind, subject, at) VALUES (?, ?, ?, ?, ?, ?)",
                           (int(seq), event, hash, kind, subject or None, at))
            db.commit()
            """, [database, file], in: dir)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
    }

    /// How many events of `kind` the ledger holds (by their text).
    func count(kind: String) async throws -> Int {
        try await events().filter { $0.eventType == kind }.count
    }

    /// What `keel run` says about the ledger when it starts (its `keel: audit ledger ...` line, or
    /// its refusal), after which it is stopped.
    func startupLine(in tmp: TemporaryDirectory) async throws -> String {
        let server = try KeelServerProcess(config: config, in: dir, log: tmp.path("run-\(UUID().uuidString.prefix(8)).log"))
        _ = await eventually(seconds: 120) { server.log.contains("audit ledger") || !server.process.isRunning }
        server.signal(SIGTERM)
        _ = await server.waitForExit()
        let lines = server.log.split(separator: "\n").map(String.init)
        return lines.first { $0.contains("audit ledger") } ?? lines.filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
