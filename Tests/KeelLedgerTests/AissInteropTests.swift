import Foundation
import KeelLedger
import KeelTestSupport
import Testing

@Suite(.enabled(if: ReferenceAiss.isAvailable, Comment(rawValue: ReferenceAiss.skipMessage)))
struct AissInteropTests {
    // MARK: Keel → aiss

    @Test func aissAcceptsABundleKeelWrote() async throws {
        try await withTemporaryDirectory { tmp in
            var chain = ChainBuilder()
            try chain.append("ledger_opened")
            for index in 1..<50 {
                try chain.append(
                    ["state_transition", "agent_run", "cost_event", "human_decision"][index % 4],
                    extra: [
                        "cost_micros": .integer(Int64(index) * 1_250_000),
                        "delta_micros": .integer(-Int64(index)),
                        "note": .string("étape \(index) ✓ 😀 \"quoted\" / back\\slash\nnewline"),
                        "evidence": [
                            "sha256": .string(String(repeating: "ab", count: 32)), "files": ["a.swift", "b/c.swift"],
                            "tokens": ["in": 1200, "out": 345],
                        ],
                    ]
                )
            }
            let path = tmp.path("keel-export.json")
            let bytes = try AuditBundle.export(identity: chain.signer.document, events: chain.stamps, exportedAt: testEpoch + 3600)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let hashesPath = tmp.path("hashes.json")
            try await ReferenceAiss.mustRun(
                """
                import json, sys
                from aiss.verify import verify_chain
                from aiss.exports import validate_audit_export
                from aiss.chain import compute_event_hash, compute_chain_hash
                from aiss.identity import verify_agent_id
                from aiss.crypto.ed25519 import decode_base64
                with open(sys.argv[1], encoding="utf-8") as f:
                    audit = json.load(f)
                identity = audit["agent_identity"]
                assert verify_chain(audit["events"], identity) is True
                assert validate_audit_export(audit) is True
                assert verify_agent_id(identity["agent_id"], decode_base64(identity["public_key"]))
                with open(sys.argv[2], "w") as f:
                    json.dump({"hashes": [compute_event_hash(e) for e in audit["events"]],
                               "chain": compute_chain_hash(audit["events"])}, f)
                """,
                [path, hashesPath]
            )
            let result = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: hashesPath))))
            #expect(result["hashes"] == .array(chain.stamps.map { .string($0.hash) }))
            #expect(result["chain"]?.stringValue == AuditBundle.chainIntegrityHash(eventHashes: chain.stamps.map(\.hash)))
        }
    }

    // MARK: aiss → Keel

    static let writeAissChain = """
        import json, sys
        from aiss import generate_keypair, derive_agent_id, export_identity, stamp_event, stamp_genesis_event
        from aiss.chain import compute_event_hash
        from aiss.exports import export_audit_chain_to_file
        numbers = sys.argv[2]
        priv, pub = generate_keypair()
        aid = derive_agent_id(pub)
        identity = export_identity(aid, pub)
        events = [stamp_genesis_event(priv, pub, aid, {
            "event_type": "genesis", "seq": 0, "note": "caf\\u00e9 \\u2713 \\U0001F600",
            "nested": {"b": [1, 2, {"z": -3}], "a": {"\\u00e9": 1, "e\\u0301": 2}, "big": 2**62}})]
        for i in range(1, 30):
            payload = {"event_type": "step", "seq": i, "note": "note-%d" % i, "amounts": {"micros": i * 1000, "neg": -i},
                       "tags": ["\\u65e5\\u672c", "x/y", "tab\\there"], "flag": i % 2 == 0, "nothing": None}
            if numbers == "doubles":
                payload.update({"ratio": i / 4, "price": 100.0, "tiny": 1e-05, "huge": 1e16, "zero": -0.0, "third": 1 / 3})
            if numbers == "big integers":
                payload.update({"big": 12345678901234567890123 + i, "huge": 2**70, "negative": -2**64, "unsafe": 2**53 + i,
                                "list": [10**30, -(10**25) - i, 2**63 - 1, -(2**63)]})
            events.append(stamp_event(priv, aid, payload, previous_hash=compute_event_hash(events[-1])))
        export_audit_chain_to_file(events, identity, sys.argv[1])
        """

    /// An export aiss wrote, with payload numbers of one kind besides small integers:
    /// `"integers"` (none), `"doubles"` or `"big integers"` (beyond ±(2^53 − 1), some beyond 64 bits).
    func aissBundle(numbers: String, in tmp: TemporaryDirectory) async throws -> [UInt8] {
        let path = tmp.path("aiss-export-\(numbers).json")
        try await ReferenceAiss.mustRun(Self.writeAissChain, [path, numbers])
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test(arguments: ["integers", "doubles", "big integers"])
    func keelVerifiesABundleAissWroteAndCatchesAByteFlip(numbers: String) async throws {
        try await withTemporaryDirectory { tmp in
            let bytes = try await aissBundle(numbers: numbers, in: tmp)
            let bundle = try AuditBundle.parse(bytes)
            #expect(bundle.events.count == 30)
            #expect(bundle.events[0]["payload"]?["note"] == "café ✓ 😀")

            let report = try await bundle.verify(pinnedKey: bundle.identity.publicKey)
            #expect(report.isValid, "\(report.breaks)")
            #expect(report.integrityHashMatches)
            #expect(await bundle.verify(pinned: nil).isValid)

            // A one-byte change inside event 7's payload.
            var flipped = bytes
            let needle = Array("\"note-7\"".utf8)
            let at = try #require((0...(flipped.count - needle.count)).first { Array(flipped[$0..<($0 + needle.count)]) == needle })
            flipped[at + 1] ^= 0x01
            let tampered = try await AuditBundle.parse(flipped).verify(pinnedKey: bundle.identity.publicKey)
            #expect(
                shape(tampered.breaks) == [
                    Pair(index: 7, kind: .badSignature), Pair(index: 8, kind: .hashMismatch), Pair(index: 30, kind: .chainIntegrityMismatch),
                ])
        }
    }

    // MARK: canonical form

    @Test func keelCanonicalFormEqualsAissCanonicalize() async throws {
        let values = #"""
            [0, -1, 9007199254740991, -9007199254740991,
             true, false, null, "", [], {}, [[[]]], {"a": {}},
             "caf\u00e9 e\u0301 \u2713 \ud83d\ude00 \u65e5\u672c / \\ \" \u0000 \u001f \u007f \u2028 \u2029",
             {"\u00e9": 1, "e\u0301": 2, "E": 3, "e": 4, "\u00c9": 5, "": 6, "a b": 7, "\u65e5": 8},
             {"z": {"y": [{"b": 1, "a": [2, {"d": null, "c": "x"}]}]}, "a": [3, 2, 1]},
             {"event_type": "cost_event", "seq": 12, "cost_micros": 1250000, "tokens": {"input": 1, "output": 2}}]
            """#
        let doubles = #"""
            [0.5, 100.0, 1e-05, 1e-07, 1e16, 1e21, 1e22, -0.0, 0.0, 123456.789, 5e-324, 1.7976931348623157e308,
             0.1, 0.0001, 1e15, 333333333.33333329, -1.5e-10, {"\ue000": 1, "\ud800\udc00": 2, "a": 1.0}]
            """#
        // aiss writes every digit of an integer, where RFC 8785 rounds it to a double beyond ±(2^53 − 1).
        let bigIntegers = #"""
            [9007199254740992, 9007199254740993, -9007199254740993, 9223372036854775807, -9223372036854775808,
             9223372036854775808, 18446744073709551616, -18446744073709551617, 1180591620717411303424,
             12345678901234567890123, 100000000000000000000000000000, {"a": [1, 1180591620717411303424], "b": {"c": -99999999999999999999999}}]
            """#
        try await withTemporaryDirectory { tmp in
            var random = SystemRandomNumberGenerator()
            var randomDoubles: [JSONValue] = []
            while randomDoubles.count < 2_000 {
                let value = Double(bitPattern: random.next())
                if value.isFinite { randomDoubles.append(.number(value)) }
            }
            let inputs: [(name: String, text: String, dialect: CanonicalJSON.Dialect)] = [
                ("values", values, .rfc8785),
                ("doubles", doubles, .aissPython),
                ("bigIntegers", bigIntegers, .aissPython),
                // In Python's form so that json.load reads each as a float: the RFC 8785 form of
                // an integral double below 1e21 has no point and would come back as an int.
                ("random", String(decoding: try CanonicalJSON.encode(.array(randomDoubles), dialect: .aissPython), as: UTF8.self), .aissPython),
            ]
            for input in inputs {
                let inPath = tmp.path("\(input.name).json")
                let outPath = tmp.path("\(input.name).out")
                try Data(input.text.utf8).write(to: URL(fileURLWithPath: inPath))
                try await ReferenceAiss.mustRun(
                    """
                    import json, sys
                    from aiss.canonical import canonicalize
                    with open(sys.argv[1], encoding="utf-8") as f:
                        values = json.load(f)
                    with open(sys.argv[2], "w") as f:
                        json.dump([canonicalize(v).hex() for v in values], f)
                    """,
                    [inPath, outPath]
                )
                let expected = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: outPath)))).arrayValue ?? []
                let elements = try JSONValue.parse(input.text).arrayValue ?? []
                #expect(expected.count == elements.count)
                for (element, hex) in zip(elements, expected) {
                    let ours = try CanonicalJSON.encode(element, dialect: input.dialect)
                    #expect(ours == hexBytes(hex.stringValue ?? ""), "\(input.name): \(String(decoding: ours, as: UTF8.self))")
                }
            }
        }
    }
}
