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
}
