import Foundation
import KeelAgents
import KeelTestSupport
import Testing

/// Attack 5 of the ledger's threat model: an export cut short. `chain_integrity_hash` is SHA-256
/// over the concatenated event hashes, with no key, so whoever holds an export can drop events from
/// its end and recompute it. Keel's export ends with a signed checkpoint of its size; a cut or
/// emptied export no longer does, and `keel ledger verify --bundle` says so (exit 1), pinned or not.
@Suite struct LedgerExportAttackTests {
    @Test func anExportCutToItsFirst20EventsWithARecomputedIntegrityHashIsBroken() async throws {
        try await withTemporaryDirectory(prefix: "keel-export-cut") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            let full = try await export(demo, to: tmp.path("audit.json"))
            #expect(full.events > 21, "the demo's export is too short to cut: \(full.events) events")

            let cut = try await cutBundle(full.path, keeping: 20, to: tmp.path("cut.json"), in: tmp.path)
            let verify = try await demo.keel(["ledger", "verify", "--bundle", cut, "--public-key", identity.publicKey])
            #expect(verify.outcome.termination == .exited(1), "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("BROKEN"), "\(verify.stdout)")
            #expect(verify.stdout.contains("index 20: unsealed_export"), "\(verify.stdout)")
            #expect(verify.stdout.contains("does not end with its signed checkpoint, so it may have been cut"), "\(verify.stdout)")

            // The cut is otherwise perfect (every signature, link and the recomputed hash hold):
            // the missing seal is the only thing that gives it away.
            let report = try await verifyJSON(demo, cut, publicKey: identity.publicKey)
            #expect(!report.valid && report.events == 20 && report.seal == nil)
            #expect(report.breaks.map(\.kind) == ["unsealed_export"], "\(report.breaks)")

            // Renaming the exporter (metadata is not signed) does not make it foreign: its payloads are Keel's.
            let renamed = try await cutBundle(full.path, keeping: 20, to: tmp.path("renamed.json"), in: tmp.path, exporter: "aiss/2.0.0")
            // (Verified outside the project, so that nothing but the bundle itself says whose it is.)
            let outside = try await keel(["ledger", "verify", "--bundle", renamed, "--public-key", identity.publicKey, "--json"], in: tmp.path)
            let disguised = try JSONDecoder().decode(SealedBundleVerification.self, from: Data(outside.stdout.utf8))
            #expect(disguised.breaks.map(\.kind) == ["unsealed_export"], "\(disguised.breaks)")
            #expect(disguised.breaks.first?.message.contains("payload follows Keel's payload rules") == true, "\(disguised.breaks)")
        }
    }

    @Test func insideTheProjectItsOwnExportIsPinnedToTheGenesisKeyWithoutBeingAsked() async throws {
        try await withTemporaryDirectory(prefix: "keel-export-anchor") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let full = try await export(demo, to: tmp.path("audit.json"))
            let whole = try await demo.keel(["ledger", "verify", "--bundle", full.path])
            #expect(whole.outcome.termination == .exited(0), "\(whole.stdout)\(whole.stderr)")
            #expect(whole.stdout.contains("pinned to this project's genesis key"), "\(whole.stdout)")
            let cut = try await cutBundle(full.path, keeping: 20, to: tmp.path("cut.json"), in: tmp.path, exporter: "aiss/2.0.0")
            let verify = try await demo.keel(["ledger", "verify", "--bundle", cut])
            #expect(verify.outcome.termination == .exited(1) && verify.stdout.contains("unsealed_export"), "\(verify.stdout)\(verify.stderr)")
            // Outside any project nothing is pinned unless asked, and the output says so.
            let outside = try await keel(["ledger", "verify", "--bundle", full.path], in: tmp.path)
            #expect(outside.outcome.termination == .exited(0) && outside.stdout.contains("signer not pinned"), "\(outside.stdout)\(outside.stderr)")
        }
    }

    @Test func anExportEmptiedOfEveryEventIsBroken() async throws {
        try await withTemporaryDirectory(prefix: "keel-export-empty") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            let full = try await export(demo, to: tmp.path("audit.json"))

            for exporter in ["keel", "aiss/2.0.0"] {
                let empty = try await cutBundle(full.path, keeping: 0, to: tmp.path("empty-\(exporter.prefix(4)).json"), in: tmp.path, exporter: exporter)
                let verify = try await demo.keel(["ledger", "verify", "--bundle", empty, "--public-key", identity.publicKey])
                #expect(verify.outcome.termination == .exited(1), "exporter \(exporter): \(verify.stdout)\(verify.stderr)")
                #expect(verify.stdout.contains("index 0: unsealed_export"), "\(verify.stdout)")
                #expect(verify.stdout.contains("has no events, not even its signed checkpoint"), "\(verify.stdout)")
            }
        }
    }

    @Test func anExportCutRightAfterAPeriodicCheckpointIsBroken() async throws {
        try await withTemporaryDirectory(prefix: "keel-export-periodic") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            // A checkpoint after every second event from now on, then some events.
            let config = try String(contentsOfFile: demo.config, encoding: .utf8)
            try Data((config + "ledger:\n  checkpoint_every: 2\n").utf8).write(to: URL(fileURLWithPath: demo.config))
            let issue = tmp.path("issue.md")
            try Data("Add a greeting in French.\n".utf8).write(to: URL(fileURLWithPath: issue))
            for title in ["Bonjour", "Salut", "Coucou"] {
                let submit = try await demo.keel(["submit", "--title", title, "--body-file", issue])
                #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
            }
            let full = try await export(demo, to: tmp.path("audit.json"))

            // The last periodic checkpoint before the export's own: a signed size and head that match its position.
            let events = try bundleEvents(full.path)
            let payloads = events.map { $0["payload"] as? [String: Any] ?? [:] }
            let periodic = try #require(
                payloads.indices.last { payloads[$0]["event_type"] as? String == "checkpoint" && payloads[$0]["scope"] == nil },
                "no periodic checkpoint in the export")
            #expect(payloads[periodic]["size"] as? Int == periodic)
            #expect(payloads.last?["scope"] as? String == "export" && periodic < events.count - 1)

            let cut = try await cutBundle(full.path, keeping: periodic + 1, to: tmp.path("cut.json"), in: tmp.path)
            let verify = try await demo.keel(["ledger", "verify", "--bundle", cut, "--public-key", identity.publicKey])
            #expect(verify.outcome.termination == .exited(1), "\(verify.stdout)\(verify.stderr)")
            let report = try await verifyJSON(demo, cut, publicKey: identity.publicKey)
            #expect(report.breaks.map(\.kind) == ["unsealed_export"], "\(report.breaks)")
        }
    }

    @Test func aWholeExportEndsWithItsSignedCheckpointAndVerifies() async throws {
        try await withTemporaryDirectory(prefix: "keel-export-whole") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            let before = try await demo.ledgerCount()

            let full = try await export(demo, to: tmp.path("audit.json"))
            // The seal is stamped into the ledger itself (the export is an exact prefix of the chain).
            #expect(try await demo.ledgerCount() == before + 1)
            #expect(full.events == Int(before) + 1)
            #expect(full.stdout.contains("sealed by the checkpoint at seq \(before + 1) (size \(before): the events before it), stamped now"), "\(full.stdout)")
            let last = try #require(try bundleEvents(full.path).last?["payload"] as? [String: Any])
            #expect(last["event_type"] as? String == "checkpoint" && last["scope"] as? String == "export")
            #expect(last["size"] as? Int == Int(before) && last["seq"] as? Int == Int(before) + 1)

            let verify = try await demo.keel(["ledger", "verify", "--bundle", full.path, "--public-key", identity.publicKey])
            #expect(verify.outcome.termination == .exited(0), "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("sealed by its signed export checkpoint (seq \(before + 1)): \(before) events before it"), "\(verify.stdout)")
            #expect(!verify.stdout.contains("warning"), "\(verify.stdout)")
            let report = try await verifyJSON(demo, full.path, publicKey: identity.publicKey)
            #expect(report.valid && report.breaks.isEmpty && report.warnings.isEmpty)
            #expect(report.seal?.size == before && report.seal?.index == Int(before))

            // Exporting again with nothing new reuses the head's seal: no second stamp.
            let again = try await export(demo, to: tmp.path("again.json"))
            #expect(again.stdout.contains("already the ledger's head"), "\(again.stdout)")
            #expect(try await demo.ledgerCount() == before + 1)
            #expect(again.events == full.events)

            // The ledger with its seal is still intact.
            let local = try await demo.keel(["ledger", "verify"])
            #expect(local.outcome.termination == .exited(0), "\(local.stdout)\(local.stderr)")
        }
    }

    @Test(.enabled(if: ReferenceAiss.isAvailable, Comment(rawValue: ReferenceAiss.skipMessage)))
    func aForeignBundleWithoutASealVerifiesWithAWarningThatTruncationCannotBeDetected() async throws {
        try await withTemporaryDirectory(prefix: "keel-export-foreign") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let bundle = tmp.path("aiss.json")
            // An agent's chain as aiss-standard writes it: its own payloads (a float, no seq).
            let made = try await python(
                """
                import sys
                from aiss import generate_keypair, derive_agent_id, export_identity, stamp_event, stamp_genesis_event
                from aiss.chain import compute_event_hash
                from aiss.crypto.ed25519 import encode_base64
                from aiss.exports import export_audit_chain_to_file
                priv, pub = generate_keypair()
                aid = derive_agent_id(pub)
                events = [stamp_genesis_event(priv, pub, aid, {"action": "open", "confidence": 0.5})]
                for i in range(1, 12):
                    events.append(stamp_event(priv, aid, {"action": "trade", "confidence": i / 16},
                                              previous_hash=compute_event_hash(events[-1])))
                export_audit_chain_to_file(events, export_identity(aid, pub), sys.argv[1])
                print(encode_base64(pub))
                """, [bundle], in: tmp.path)
            try #require(made.outcome.termination == .exited(0), "\(made.stderr)")
            let publicKey = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            let verify = try await demo.keel(["ledger", "verify", "--bundle", bundle, "--public-key", publicKey])
            #expect(verify.outcome.termination == .exited(0), "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("(pinned)") && verify.stdout.contains("\nvalid\n"), "\(verify.stdout)")
            #expect(
                verify.stdout.contains("warning: this bundle does not end with a signed export checkpoint (it is not Keel's export): events cut from its end cannot be detected"),
                "\(verify.stdout)")

            let report = try await verifyJSON(demo, bundle, publicKey: publicKey)
            #expect(report.valid && report.breaks.isEmpty && report.seal == nil)
            #expect(report.warnings.count == 1 && report.warnings.first?.contains("cannot be detected") == true, "\(report.warnings)")
        }
    }

    // MARK: helpers

    /// `keel ledger export --out PATH`, required to succeed.
    private func export(_ demo: LedgerDemo, to path: String) async throws -> (path: String, events: Int, stdout: String) {
        let run = try await demo.keel(["ledger", "export", "--out", path])
        try #require(run.outcome.termination == .exited(0), "\(run.stdout)\(run.stderr)")
        return (path, try bundleEvents(path).count, run.stdout)
    }

    private func bundleEvents(_ path: String) throws -> [[String: Any]] {
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        return try #require(document?["events"] as? [[String: Any]])
    }

    /// What an attacker with the export and no key does: keeps the first `keeping` events and
    /// recomputes the unkeyed chain_integrity_hash (aiss `compute_chain_hash`, SHA-256 over the
    /// concatenated hex event hashes; each kept event's hash is the next original event's
    /// previous_hash), with Python's hashlib alone. Optionally renames the exporter.
    private func cutBundle(_ source: String, keeping: Int, to destination: String, in dir: String, exporter: String? = nil) async throws -> String {
        let run = try await python(
            """
            import hashlib, json, sys
            with open(sys.argv[1], encoding="utf-8") as f:
                audit = json.load(f)
            keep = int(sys.argv[3])
            original = audit["events"]
            assert keep < len(original)
            hashes = [e["previous_hash"] for e in original[1:keep + 1]]
            audit["events"] = original[:keep]
            audit["chain_integrity_hash"] = hashlib.sha256("".join(hashes).encode()).hexdigest()
            audit["metadata"]["event_count"] = keep
            if sys.argv[4]:
                audit["metadata"]["exporter"] = sys.argv[4]
            with open(sys.argv[2], "w", encoding="utf-8") as f:
                json.dump(audit, f, indent=2)
            """, [source, destination, String(keeping), exporter ?? ""], in: dir)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
        return destination
    }

    private func verifyJSON(_ demo: LedgerDemo, _ bundle: String, publicKey: String) async throws -> SealedBundleVerification {
        let run = try await demo.keel(["ledger", "verify", "--bundle", bundle, "--public-key", publicKey, "--json"])
        #expect(run.outcome.termination == .exited(0) || run.outcome.termination == .exited(1), "\(run.stderr)")
        return try JSONDecoder().decode(SealedBundleVerification.self, from: Data(run.stdout.utf8))
    }
}

/// `keel ledger verify --bundle ... --json`, with the seal and the warnings.
private struct SealedBundleVerification: Decodable {
    struct Break: Decodable { var index: Int; var kind: String; var message: String }
    struct Seal: Decodable { var index: Int; var seq: Int64?; var size: Int64 }
    var valid: Bool
    var events: Int
    var seal: Seal?
    var breaks: [Break]
    var warnings: [String]
}
