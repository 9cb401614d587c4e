import Foundation
import KeelAgents
import KeelTestSupport
import Testing

/// Attacks on the ledger's encodings by someone who can write the database or an export but
/// cannot read the signing key, played with Python against the real `keel` binary.
@Suite struct LedgerEncodingAttackTests {
    /// Python: re-spells the signature at `sys.argv[1]`'s `seq` / `index` so that it decodes to the
    /// same 64 bytes (the low bits of the character before `==` carry nothing), and checks that it does.
    static let respell = """
        import base64
        ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        def respell(sig):
            assert len(sig) == 88 and sig.endswith("=="), sig
            other = sig[:85] + ALPHABET[ALPHABET.index(sig[85]) ^ 5] + sig[86:]
            assert other != sig and base64.b64decode(other) == base64.b64decode(sig)
            return other
        """

    @Test func aSignatureReSpelledInTheDatabaseIsABadSignatureAtThatSeq() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-base64") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let clean = try await demo.keel(["ledger", "verify"])
            try #require(clean.outcome.termination == .exited(0), "\(clean.stdout)\(clean.stderr)")

            let edit = try await python(
                Self.respell + "\n" + """
                    import json, sqlite3, sys
                    db = sqlite3.connect(sys.argv[1])
                    seq = int(sys.argv[2])
                    (text,) = db.execute("SELECT event FROM ledger_events WHERE seq = ?", (seq,)).fetchone()
                    sig = json.loads(text)["signature"]
                    changed = db.execute("UPDATE ledger_events SET event = replace(event, ?, ?) WHERE seq = ?",
                                         (sig, respell(sig), seq)).rowcount
                    db.commit()
                    print(changed)
                    """, [demo.database, "3"], in: demo.dir)
            try #require(edit.outcome.termination == .exited(0) && edit.stdout == "1\n", "\(edit.stdout)\(edit.stderr)")

            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(1), "a re-spelled signature verified:\n\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("seq 3: bad_signature"), "\(verify.stdout)")
            #expect(verify.stdout.contains("not canonical base64"), "\(verify.stdout)")
            // The hash leaves the signature out: nothing else in the chain moved.
            let breaks = try await demo.status().breaks
            #expect(breaks.map(\.kind) == ["bad_signature"] && breaks.first?.seq == 3, "\(breaks)")
        }
    }

    @Test func aSignatureReSpelledInAnExportIsABadSignatureAtThatIndex() async throws {
        try await withTemporaryDirectory(prefix: "keel-bundle-base64") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let identity = try await demo.identity()
            let bundle = tmp.path("audit.json")
            let export = try await demo.keel(["ledger", "export", "--out", bundle])
            try #require(export.outcome.termination == .exited(0), "\(export.stderr)")

            let edit = try await python(
                Self.respell + "\n" + """
                    import json, sys
                    path, index = sys.argv[1], int(sys.argv[2])
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                    sig = json.loads(text)["events"][index]["signature"]
                    assert text.count(sig) == 1
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(text.replace(sig, respell(sig)))
                    """, [bundle, "5"], in: tmp.path)
            try #require(edit.outcome.termination == .exited(0), "\(edit.stderr)")

            let verify = try await demo.keel(["ledger", "verify", "--bundle", bundle, "--public-key", identity.publicKey, "--json"])
            #expect(verify.outcome.termination == .exited(1), "a re-spelled signature verified:\n\(verify.stdout)\(verify.stderr)")
            let report = try JSONDecoder().decode(BundleVerification.self, from: Data(verify.stdout.utf8))
            #expect(!report.valid)
            #expect(report.breaks.map(\.index) == [5] && report.breaks.map(\.kind) == ["bad_signature"], "\(verify.stdout.prefix(2000))")
            #expect(report.breaks.first?.message.contains("not canonical base64") == true, "\(verify.stdout.prefix(2000))")
        }
    }
    /// aiss hashes a payload integer of any size with every digit (Python's `str(int)`), where
    /// RFC 8785 would round it to a double: Keel verifies such a chain in aiss's form, and an edit
    /// that keeps the double the same still breaks it.
    @Test(.enabled(if: ReferenceAiss.isAvailable, Comment(rawValue: ReferenceAiss.skipMessage)))
    func anAissExportWithIntegersBeyond64BitsVerifiesAndAChangedDigitBreaksIt() async throws {
        try await withTemporaryDirectory(prefix: "keel-bundle-bigint") { tmp in
            let bundle = tmp.path("aiss-export.json")
            let made = try await python(
                """
                import sys
                from aiss import generate_keypair, derive_agent_id, export_identity, stamp_event, stamp_genesis_event
                from aiss.chain import compute_event_hash
                from aiss.exports import export_audit_chain_to_file
                from aiss.verify import verify_chain
                priv, pub = generate_keypair()
                aid = derive_agent_id(pub)
                identity = export_identity(aid, pub)
                events = [stamp_genesis_event(priv, pub, aid, {"event_type": "genesis", "seq": 0, "supply": 2**70})]
                for i in range(1, 6):
                    payload = {"event_type": "transfer", "seq": i, "amount": 12345678901234567890120 + i,
                               "limits": [-2**64, 2**53 + 1, 2**63 - 1, -(2**63)], "nested": {"n": [10**30 + i]}}
                    events.append(stamp_event(priv, aid, payload, previous_hash=compute_event_hash(events[-1])))
                assert verify_chain(events, identity) is True
                export_audit_chain_to_file(events, identity, sys.argv[1])
                print(identity["public_key"])
                """, [bundle], in: tmp.path)
            try #require(made.outcome.termination == .exited(0), "\(made.stderr)")
            let key = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            let verify = try await KeelScenarioTests.keel(["ledger", "verify", "--bundle", bundle, "--public-key", key], in: tmp.path)
            #expect(verify.outcome.termination == .exited(0), "Keel called aiss's chain broken:\n\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("(pinned)") && verify.stdout.contains("valid"), "\(verify.stdout)")

            // Event 3's amount, one digit up: the same double (1.2345678901234568e+22), other digits.
            let tampered = tmp.path("tampered.json")
            let edit = try await python(
                """
                import json, sys
                from aiss.verify import verify_chain
                with open(sys.argv[1], encoding="utf-8") as f:
                    text = f.read()
                assert text.count("12345678901234567890123") == 1
                text = text.replace("12345678901234567890123", "12345678901234567890124")
                audit = json.loads(text)
                assert float(audit["events"][3]["payload"]["amount"]) == float(12345678901234567890123)
                try:
                    verify_chain(audit["events"], audit["agent_identity"])
                    sys.exit("aiss accepted the changed digit")
                except Exception:
                    pass
                with open(sys.argv[2], "w", encoding="utf-8") as f:
                    f.write(text)
                """, [bundle, tampered], in: tmp.path)
            try #require(edit.outcome.termination == .exited(0), "\(edit.stdout)\(edit.stderr)")

            let broken = try await KeelScenarioTests.keel(["ledger", "verify", "--bundle", tampered, "--public-key", key, "--json"], in: tmp.path)
            #expect(broken.outcome.termination == .exited(1), "a changed digit verified:\n\(broken.stdout)\(broken.stderr)")
            let report = try JSONDecoder().decode(BundleVerification.self, from: Data(broken.stdout.utf8))
            #expect(
                report.breaks.map { "\($0.index):\($0.kind)" } == ["3:bad_signature", "4:hash_mismatch", "6:chain_integrity_mismatch"],
                "\(broken.stdout.prefix(2000))")
        }
    }
}
