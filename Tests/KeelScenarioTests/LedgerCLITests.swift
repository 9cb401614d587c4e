import Foundation
import KeelAgents
import KeelTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The signed audit ledger as a person and a third-party auditor use it: `keel ledger ...` and
/// `keel run`'s break page, as real processes on a project `keel demo` built, checked against the
/// reference implementation (Python `aiss-standard`).
@Suite struct LedgerCLITests {
    @Test(.enabled(if: ReferenceAiss.isAvailable, Comment(rawValue: ReferenceAiss.skipMessage)))
    func anExportIsAcceptedByAissAndByKeelPinnedToItsIdentity() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-export") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let before = try await demo.ledgerCount()
            let bundle = tmp.path("audit.json")
            let export = try await demo.keel(["ledger", "export", "--out", bundle])
            #expect(export.outcome.termination == .exited(0), "\(export.stdout)\(export.stderr)")

            // The reference implementation accepts it (every signature, the links, the integrity
            // hash) with the checkpoint that seals it: one event more than the ledger held.
            let aiss = try await python(
                """
                import json, sys
                from aiss.verify import verify_chain
                from aiss.exports import validate_audit_export
                with open(sys.argv[1], encoding="utf-8") as f:
                    audit = json.load(f)
                assert verify_chain(audit["events"], audit["agent_identity"]) is True
                assert validate_audit_export(audit) is True
                print(len(audit["events"]), audit["agent_identity"]["agent_id"])
                """, [bundle], in: tmp.path)
            #expect(aiss.outcome.termination == .exited(0), "aiss rejected Keel's export:\n\(aiss.stderr)")

            let identity = try await demo.identity()
            #expect(aiss.stdout == "\(before + 1) \(identity.agentID)\n", "aiss saw: \(aiss.stdout)")
            #expect(try await demo.ledgerCount() == before + 1)
            #expect(export.stdout.contains(identity.agentID))

            // Pinned to the base64 public key.
            let byKey = try await demo.keel(["ledger", "verify", "--bundle", bundle, "--public-key", identity.publicKey])
            #expect(byKey.outcome.termination == .exited(0), "\(byKey.stdout)\(byKey.stderr)")
            #expect(byKey.stdout.contains("(pinned)") && byKey.stdout.contains("valid"))

            // Pinned to a file holding the identity document, with JSON output.
            let identityFile = tmp.path("identity.json")
            try Data(identity.document.utf8).write(to: URL(fileURLWithPath: identityFile))
            let byFile = try await demo.keel(["ledger", "verify", "--bundle", bundle, "--public-key", identityFile, "--json"])
            #expect(byFile.outcome.termination == .exited(0), "\(byFile.stdout)\(byFile.stderr)")
            let report = try JSONDecoder().decode(BundleVerification.self, from: Data(byFile.stdout.utf8))
            #expect(report.valid && report.pinned && report.breaks.isEmpty)
            #expect(report.agent_id == identity.agentID)
            #expect(report.events == Int(before) + 1)
        }
    }

    @Test func aBundleWithOneFlippedPayloadByteIsBrokenAtThatEvent() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-tamper") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let bundle = tmp.path("audit.json")
            let export = try await demo.keel(["ledger", "export", "--out", bundle])
            #expect(export.outcome.termination == .exited(0), "\(export.stderr)")

            // Flip the case of one letter in one state transition's `reason`, byte for byte in the file.
            let original = try Data(contentsOf: URL(fileURLWithPath: bundle))
            let document = try JSONSerialization.jsonObject(with: original) as? [String: Any]
            let events = try #require(document?["events"] as? [[String: Any]])
            let index = try #require(
                events.indices.first { i in i >= 3 && ((events[i]["payload"] as? [String: Any])?["reason"] as? String)?.first?.isLetter == true })
            let nonce = try #require(events[index]["nonce"] as? String)
            var bytes = [UInt8](original)
            let eventStart = try #require(bytes.firstRange(of: Array("\"nonce\":\"\(nonce)\"".utf8)))
            let reason = try #require(bytes[eventStart.upperBound...].firstRange(of: Array("\"reason\":\"".utf8)))
            bytes[reason.upperBound] ^= 0x20
            let tampered = tmp.path("tampered.json")
            try Data(bytes).write(to: URL(fileURLWithPath: tampered))

            let verify = try await demo.keel(["ledger", "verify", "--bundle", tampered])
            #expect(verify.outcome.termination == .exited(1), "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("BROKEN"))
            #expect(verify.stdout.contains("index \(index): bad_signature"), "\(verify.stdout)")
            #expect(verify.stdout.contains("index \(index + 1): hash_mismatch"), "\(verify.stdout)")
            #expect(verify.stdout.contains("index \(events.count): chain_integrity_mismatch"), "\(verify.stdout)")

            let json = try await demo.keel(["ledger", "verify", "--bundle", tampered, "--json"])
            #expect(json.outcome.termination == .exited(1))
            let report = try JSONDecoder().decode(BundleVerification.self, from: Data(json.stdout.utf8))
            #expect(!report.valid)
            #expect(report.breaks.first?.index == index && report.breaks.first?.kind == "bad_signature", "\(json.stdout)")
            #expect(report.breaks.contains { $0.kind == "chain_integrity_mismatch" })

            // Not JSON at all: exit 2, one line saying so.
            let garbage = tmp.path("garbage.json")
            try Data("this is not { json\n".utf8).write(to: URL(fileURLWithPath: garbage))
            let unreadable = try await demo.keel(["ledger", "verify", "--bundle", garbage])
            #expect(unreadable.outcome.termination == .exited(2), "\(unreadable.stdout)\(unreadable.stderr)")
            #expect(unreadable.stderr.contains("is not a readable AISS-1.0-AUDIT bundle"), "\(unreadable.stderr)")
            #expect(unreadable.stderr.contains("invalid JSON"), "\(unreadable.stderr)")
            #expect(oneLine(unreadable.stderr), "\(unreadable.stderr)")

            // JSON, but not an audit export.
            let array = tmp.path("array.json")
            try Data("[1, 2, 3]\n".utf8).write(to: URL(fileURLWithPath: array))
            let notBundle = try await demo.keel(["ledger", "verify", "--bundle", array])
            #expect(notBundle.outcome.termination == .exited(2), "\(notBundle.stdout)\(notBundle.stderr)")
            #expect(notBundle.stderr.contains("not an AISS-1.0-AUDIT object"), "\(notBundle.stderr)")

            // No such file.
            let missing = tmp.path("no-such-bundle.json")
            let absent = try await demo.keel(["ledger", "verify", "--bundle", missing])
            #expect(absent.outcome.termination == .exited(2), "\(absent.stdout)\(absent.stderr)")
            #expect(absent.stderr.contains("cannot read \(missing)"), "\(absent.stderr)")
            #expect(oneLine(absent.stderr), "\(absent.stderr)")
        }
    }

    @Test(.enabled(if: ReferenceAiss.isAvailable, Comment(rawValue: ReferenceAiss.skipMessage)))
    func aChainResignedUnderASwappedIdentityIsCaughtOnlyWithAPinnedKey() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-resign") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let bundle = tmp.path("audit.json")
            let export = try await demo.keel(["ledger", "export", "--out", bundle])
            #expect(export.outcome.termination == .exited(0), "\(export.stderr)")

            // The forger keeps every payload, nonce and timestamp, re-signs each event with a new key
            // in order, re-links the chain from the new key's genesis hash and writes a new identity.
            let forged = tmp.path("forged.json")
            let resign = try await python(
                """
                import json, sys
                from aiss import generate_keypair, derive_agent_id, export_identity, stamp_event
                from aiss.canonical import hash_bytes
                from aiss.chain import compute_event_hash
                from aiss.exports import export_audit_chain
                from aiss.verify import verify_chain

                with open(sys.argv[1], encoding="utf-8") as f:
                    original = json.load(f)
                private_key, public_key = generate_keypair()
                agent_id = derive_agent_id(public_key)
                previous = hash_bytes(public_key)
                events = []
                for event in original["events"]:
                    payload = dict(event["payload"])
                    if "head_hash" in payload:  # a checkpoint records the head it follows: the forged one
                        payload["head_hash"] = previous
                    resigned = stamp_event(
                        private_key, agent_id, payload, previous_hash=previous,
                        nonce=event["nonce"], timestamp=event["timestamp"])
                    events.append(resigned)
                    previous = compute_event_hash(resigned)
                identity = export_identity(agent_id, public_key)
                assert verify_chain(events, identity) is True
                with open(sys.argv[2], "w", encoding="utf-8") as f:
                    json.dump(export_audit_chain(identity, events), f, indent=2)
                print(agent_id)
                """, [bundle, forged], in: tmp.path)
            #expect(resign.outcome.termination == .exited(0), "\(resign.stderr)")
            let forgerID = resign.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let identity = try await demo.identity()
            #expect(!forgerID.isEmpty && forgerID != identity.agentID)

            // Unpinned, it is a perfectly valid chain of another signer.
            let unpinned = try await demo.keel(["ledger", "verify", "--bundle", forged])
            #expect(unpinned.outcome.termination == .exited(0), "\(unpinned.stdout)\(unpinned.stderr)")
            #expect(unpinned.stdout.contains("signed by \(forgerID)") && unpinned.stdout.contains("signer not pinned"))

            // Pinned to Keel's key, the swap is named at index 0.
            let pinned = try await demo.keel(["ledger", "verify", "--bundle", forged, "--public-key", identity.publicKey])
            #expect(pinned.outcome.termination == .exited(1), "\(pinned.stdout)\(pinned.stderr)")
            let firstBreak = pinned.stdout.split(separator: "\n").first { $0.contains("index ") }
            #expect(firstBreak?.contains("index 0: unknown_key: identity mismatch") == true, "\(pinned.stdout.prefix(2000))")
            #expect(firstBreak?.contains(forgerID) == true && firstBreak?.contains(identity.agentID) == true)

            let identityFile = tmp.path("identity.json")
            try Data(identity.document.utf8).write(to: URL(fileURLWithPath: identityFile))
            let json = try await demo.keel(["ledger", "verify", "--bundle", forged, "--public-key", identityFile, "--json"])
            #expect(json.outcome.termination == .exited(1))
            let report = try JSONDecoder().decode(BundleVerification.self, from: Data(json.stdout.utf8))
            #expect(!report.valid && report.pinned && report.agent_id == forgerID)
            #expect(report.breaks.first?.index == 0 && report.breaks.first?.kind == "unknown_key", "\(json.stdout.prefix(2000))")
        }
    }

    @Test func aLocalTamperIsDetectedAndAPersonsDecisionIsStampedOnce() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-resolve") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            #expect(try await demo.status().status == "valid")
            try await demo.tamperWithSubmission(seq: 2)

            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(1), "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("seq 2: bad_signature"), "\(verify.stdout)")
            #expect(verify.stdout.contains("new break(s) recorded and stamped"), "\(verify.stdout)")

            let pending = try await demo.status()
            #expect(pending.status == "break_pending")
            let bad = try #require(pending.breaks.first { $0.seq == 2 && $0.kind == "bad_signature" }, "\(pending.breaks)")
            for brk in pending.breaks {
                #expect(brk.decision == nil)
                let detected = try storeTime(brk.detected_at)
                let deadline = try storeTime(brk.deadline)
                #expect(abs(deadline.timeIntervalSince(detected) - 72 * 3600) < 1, "break #\(brk.id): \(brk.detected_at) → \(brk.deadline)")
            }

            let note = "seq 2 was edited by hand during the migration; explained in OPS-42"
            let resolve = try await demo.keel(["ledger", "resolve", String(bad.id), "--decision", "validate", "--by", "ann", "--note", note])
            #expect(resolve.outcome.termination == .exited(0), "\(resolve.stdout)\(resolve.stderr)")
            #expect(resolve.stdout.contains("break #\(bad.id): validate by ann"), "\(resolve.stdout)")

            let again = try await demo.keel(["ledger", "resolve", String(bad.id), "--decision", "reject", "--by", "bob"])
            #expect(again.outcome.termination == .exited(1), "\(again.stdout)\(again.stderr)")
            #expect(again.stderr.contains("already decided") && again.stderr.contains("ann"), "\(again.stderr)")

            // One edited event breaks its signature, its stored hash and its successor's link: each
            // break takes its own decision, and the chain is valid once all are validated.
            for other in pending.breaks where other.id != bad.id {
                let run = try await demo.keel(["ledger", "resolve", String(other.id), "--decision", "validate", "--by", "ann"])
                #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
            }
            let after = try await demo.status()
            #expect(after.status == "valid")
            #expect(after.breaks.allSatisfy { $0.decision == "validate" })

            let last = try await demo.sql("SELECT kind, event FROM ledger_events ORDER BY seq DESC LIMIT 1")
            #expect(last.hasPrefix("chain_break_resolution|"), "\(last)")
            #expect(last.contains(#""decided_by":"ann""#) && last.contains(#""decision":"validate""#), "\(last)")
            let resolutions = try await demo.sql("SELECT event FROM ledger_events WHERE kind = 'chain_break_resolution'")
            let first = resolutions.split(separator: "\n").filter { $0.contains(#""break_id":\#(bad.id),"#) }
            #expect(first.count == 1, "one stamp per decision:\n\(resolutions)")
            #expect(first.first?.contains(note) == true && first.first?.contains(#""decided_by":"ann""#) == true, "\(resolutions)")

            let maybe = try await demo.keel(["ledger", "resolve", String(bad.id), "--decision", "maybe", "--by", "ann"])
            #expect(maybe.outcome.termination == .exited(2), "\(maybe.stdout)\(maybe.stderr)")
            #expect(maybe.stderr.contains("validate, ignore or reject"), "\(maybe.stderr)")
        }
    }

    @Test func anEventEditedAgainAfterItsBreakWasValidatedIsANewBreakToDecide() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-reedit") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            try await demo.tamperWithSubmission(seq: 2)
            let first = try await demo.keel(["ledger", "verify"])
            #expect(first.outcome.termination == .exited(1), "\(first.stdout)\(first.stderr)")
            let decided = try await demo.status().breaks
            for brk in decided {
                let run = try await demo.keel(["ledger", "resolve", String(brk.id), "--decision", "validate", "--by", "ann"])
                #expect(run.outcome.termination == .exited(0), "\(run.stderr)")
            }
            let explained = try await demo.keel(["ledger", "verify"])
            #expect(explained.outcome.termination == .exited(0), "\(explained.stdout)\(explained.stderr)")
            #expect(explained.stdout.contains("seq 2: bad_signature") && explained.stdout.contains("[validated by ann"), "\(explained.stdout)")

            // The same event edited again: another state, another actor. It breaks the same way,
            // but the decision was made on other bytes.
            try await demo.edit(seq: 2, replacing: #""to_state":"queued""#, with: #""to_state":"merged""#)
            try await demo.edit(seq: 2, replacing: #""actor":"demo""#, with: #""actor":"mallory""#)
            let again = try await demo.keel(["ledger", "verify"])
            #expect(again.outcome.termination == .exited(1), "a validated break covered a later edit:\n\(again.stdout)\(again.stderr)")
            let pending = try await demo.status()
            #expect(pending.status == "break_pending")
            let new = try #require(pending.breaks.first { brk in brk.seq == 2 && !decided.contains { $0.id == brk.id } }, "\(pending.breaks)")
            #expect(new.decision == nil && new.kind == "bad_signature", "\(new)")
            #expect(again.stdout.contains("seq 2: bad_signature") && again.stdout.contains("[break #\(new.id), pending"), "\(again.stdout)")
            #expect(again.stdout.contains("new break(s) recorded and stamped"), "\(again.stdout)")
            let detections = try await demo.sql("SELECT count(*) FROM ledger_events WHERE kind = 'chain_break_detected' AND subject = 'break:\(new.id)'")
            #expect(detections == "1\n", "the new break is stamped once: \(detections)")

            // Its decision is a decision of its own, stamped again.
            let resolve = try await demo.keel(["ledger", "resolve", String(new.id), "--decision", "reject", "--by", "bob"])
            #expect(resolve.outcome.termination == .exited(0), "\(resolve.stdout)\(resolve.stderr)")
            let resolutions = try await demo.sql("SELECT event FROM ledger_events WHERE kind = 'chain_break_resolution' AND subject = 'break:\(new.id)'")
            #expect(resolutions.split(separator: "\n").count == 1 && resolutions.contains(#""decided_by":"bob""#), "\(resolutions)")
            let rejected = try await demo.keel(["ledger", "verify"])
            #expect(rejected.outcome.termination == .exited(1), "a rejected break still fails the check: \(rejected.stdout)")
            #expect(rejected.stdout.contains("[break #\(new.id): reject by bob]"), "\(rejected.stdout)")
        }
    }

    @Test func keelRunServesTheBreakPageAndTakesADecisionWithTheAdminToken() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-run") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            try await demo.tamperWithSubmission(seq: 2)
            let token = "s3cret"
            let server = try KeelServerProcess(
                config: demo.config, in: demo.dir, log: tmp.path("run.log"), environment: ["KEEL_ADMIN_TOKEN": token])
            defer { if server.process.isRunning { server.signal(SIGKILL) } }

            let listening = await eventually(seconds: 60) { server.servingPort != nil }
            let port = try #require(server.servingPort, "keel run never said where it serves:\n\(server.log)")
            #expect(listening)
            let http = LoopbackHTTP(port: port)
            defer { http.close() }

            // Startup verification finds the edit and records the breaks.
            var ledger: APILedger?
            let flagged = await eventually(seconds: 60) {
                ledger = try? await http.ledger()
                return ledger?.status == "break_pending"
            }
            #expect(flagged, "keel run did not flag the edited ledger:\n\(server.log)")
            let breaks = try #require(ledger?.breaks)
            #expect(breaks.contains { $0.id == 1 && $0.seq == 2 && $0.kind == "bad_signature" }, "\(breaks)")

            let page = try await http.get("/breaks/1")
            #expect(page.status == 200)
            for choice in ["validate", "ignore", "reject"] {
                #expect(page.body.contains(#"<input type="radio" name="decision" value="\#(choice)""#), "no \(choice) choice:\n\(page.body)")
            }
            #expect(page.body.contains("bad_signature") && page.body.contains(#"action="/breaks/1/resolve""#))

            let anonymous = try await http.postForm("/breaks/1/resolve", "decision=validate&by=ann")
            #expect(anonymous.status == 401, "\(anonymous.status): \(anonymous.body)")
            let wrong = try await http.postForm("/breaks/1/resolve", "token=guess&decision=validate&by=ann")
            #expect(wrong.status == 401, "\(wrong.status): \(wrong.body)")
            #expect(try await http.ledger().breaks.allSatisfy { $0.decision == nil }, "a refused post decided something")

            let decided = try await http.postForm("/breaks/1/resolve", "token=\(token)&decision=validate&by=ann&note=explained")
            #expect(decided.status == 303, "\(decided.status): \(decided.body)")
            #expect(decided.location == "/breaks/1")
            let after = try await http.get("/breaks/1")
            #expect(after.body.contains("Decided: <strong>validate</strong> by ann"), "\(after.body)")

            for other in breaks where other.id != 1 {
                let post = try await http.postForm("/breaks/\(other.id)/resolve", "token=\(token)&decision=validate&by=ann")
                #expect(post.status == 303, "break #\(other.id): \(post.status) \(post.body)")
            }
            let valid = try await http.ledger()
            #expect(valid.status == "valid", "\(valid)")
            #expect(valid.breaks.allSatisfy { $0.decision == "validate" && $0.decided_by == "ann" })

            server.signal(SIGTERM)
            let exit = await server.waitForExit()
            #expect(exit == 0, "keel run did not stop cleanly on SIGTERM:\n\(server.log)")
            #expect(!server.log.contains(token), "the admin token leaked into keel run's log:\n\(server.log)")
        }
    }

    @Test func aRotatedKeySignsNewEventsAndOldEventsStillVerify() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-rotate") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            let before = try await demo.identity()

            let rotate = try await demo.keel(["ledger", "rotate-key"])
            #expect(rotate.outcome.termination == .exited(0), "\(rotate.stdout)\(rotate.stderr)")
            let printed = try #require(rotate.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, "\(rotate.stdout)")
            let rotated = try Identity(document: String(printed))
            #expect(rotated.agentID != before.agentID && rotated.publicKey != before.publicKey)
            #expect(rotate.stdout.contains("\(before.agentID) handed over to \(rotated.agentID)"), "\(rotate.stdout)")

            let after = try await demo.identity()
            #expect(after.agentID == rotated.agentID && after.publicKey == rotated.publicKey)
            let mode = try FileManager.default.attributesOfItem(atPath: demo.key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "the new key file has mode \(String(mode ?? 0, radix: 8))")

            let issue = tmp.path("issue.md")
            try Data("Add a greeting in French.\n".utf8).write(to: URL(fileURLWithPath: issue))
            let submit = try await demo.keel(["submit", "--title", "Bonjour", "--body-file", issue])
            #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")
            let signers = try await demo.sql("SELECT event FROM ledger_events ORDER BY seq DESC LIMIT 1")
            #expect(signers.contains(#""agent_id":"\#(after.agentID)""#), "the event after the rotation is signed by the new key")

            let verify = try await demo.keel(["ledger", "verify"])
            #expect(verify.outcome.termination == .exited(0), "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("the chain is intact"))

            // An auditor who trusts the original key follows the signed hand-over.
            let bundle = tmp.path("audit.json")
            let export = try await demo.keel(["ledger", "export", "--out", bundle])
            #expect(export.outcome.termination == .exited(0), "\(export.stderr)")
            let pinned = try await demo.keel(["ledger", "verify", "--bundle", bundle, "--public-key", before.publicKey])
            #expect(pinned.outcome.termination == .exited(0), "\(pinned.stdout)\(pinned.stderr)")
        }
    }

    @Test func aSigningKeyReadableByOthersIsRefusedWithTheFix() async throws {
        try await withTemporaryDirectory(prefix: "keel-ledger-keymode") { tmp in
            let demo = try await LedgerDemo.make(in: tmp)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: demo.key)

            let status = try await demo.keel(["ledger", "status"])
            #expect(status.outcome.termination == .exited(1), "\(status.stdout)\(status.stderr)")
            #expect(status.stderr.contains("chmod 600 \(demo.key)"), "\(status.stderr)")
            #expect(status.stderr.contains("mode 644"), "\(status.stderr)")
            #expect(oneLine(status.stderr), "\(status.stderr)")
            #expect(status.stdout.isEmpty)

            // Doing what it says is enough.
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: demo.key)
            let fixed = try await demo.keel(["ledger", "status"])
            #expect(fixed.outcome.termination == .exited(0), "\(fixed.stderr)")
            #expect(fixed.stdout.hasPrefix("ledger: valid"), "\(fixed.stdout)")
        }
    }
}

/// `GET /api/ledger`.
private struct APILedger: Decodable {
    struct Break: Decodable { var id: Int64; var seq: Int64?; var kind: String; var decision: String?; var decided_by: String? }
    var status: String
    var events: Int64
    var breaks: [Break]
}

/// A time as the store writes it: `2026-11-24T20:29:36.457Z`.
private func storeTime(_ text: String) throws -> Date {
    try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)
}

// MARK: - keel run over HTTP

/// Plain HTTP to `keel run` on loopback, redirects reported rather than followed.
private struct LoopbackHTTP {
    struct Reply { var status: Int; var body: String; var location: String? }

    let base: String
    let session: URLSession

    init(port: Int) {
        base = "http://127.0.0.1:\(port)"
        session = URLSession(configuration: .ephemeral, delegate: NoRedirects(), delegateQueue: nil)
    }

    func close() { session.invalidateAndCancel() }

    func get(_ path: String) async throws -> Reply {
        try await send(URLRequest(url: try #require(URL(string: base + path))))
    }

    func postForm(_ path: String, _ form: String) async throws -> Reply {
        var request = URLRequest(url: try #require(URL(string: base + path)))
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(form.utf8)
        return try await send(request)
    }

    func ledger() async throws -> APILedger {
        let reply = try await get("/api/ledger")
        try #require(reply.status == 200, "GET /api/ledger: \(reply.status) \(reply.body)")
        return try JSONDecoder().decode(APILedger.self, from: Data(reply.body.utf8))
    }

    private func send(_ request: URLRequest) async throws -> Reply {
        var request = request
        request.timeoutInterval = 30
        let (data, response) = try await session.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return Reply(
            status: http.statusCode, body: String(decoding: data, as: UTF8.self), location: http.value(forHTTPHeaderField: "Location"))
    }
}

/// Hands a redirect back to the caller, so a test sees the 303 itself.
private final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
