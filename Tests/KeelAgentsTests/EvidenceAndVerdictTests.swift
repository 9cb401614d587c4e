import Foundation
import KeelAgents
import KeelTestSupport
import Testing

@Suite struct EvidenceTests {
    @Test func claimsAreReadFromAFileOrAFinalMessageInEitherShape() throws {
        let message = """
            I addressed both review items.

            ```json
            {"addressed": [{"item": "validate input", "files": ["src/app.py", {"path": "tests/test_app.py", "sha256": "ABC", "contains": "def test_empty"}]},
                           {"item": 2, "file": "README.md"}]}
            ```
            """
        let claims = try #require(EvidenceClaim.parse(message))
        #expect(
            claims == [
                EvidenceClaim(item: "validate input", path: "src/app.py"),
                EvidenceClaim(item: "validate input", path: "tests/test_app.py", sha256: "abc", contains: "def test_empty"),
                EvidenceClaim(item: "2", path: "README.md"),
            ])
        #expect(EvidenceClaim.parse("Done, all good.") == nil)
        #expect(EvidenceClaim.parse(#"{"addressed": []}"#) == [])
        #expect(EvidenceClaim.parse(#"{"addressed": [{"item": "x", "files": ["a"]}"#) == nil, "truncated JSON claims nothing")
    }

    @Test func aClaimHoldsOnlyForAChangedFileWhoseContentMatches() async throws {
        try await withTemporaryDirectory(prefix: "keel-evidence") { tmp in
            try Data("def parse(argv):\n    if not argv: raise SystemExit(1)\n".utf8).write(to: URL(fileURLWithPath: tmp.path("app.py")))
            try Data("unchanged\n".utf8).write(to: URL(fileURLWithPath: tmp.path("old.py")))
            let manifest = FileManifest.take(of: ["app.py", "gone.py"], in: tmp.path)
            let actual = try #require(manifest.files["app.py"] ?? nil)
            #expect(manifest.files["gone.py"] == .some(nil))
            #expect(manifest.text.contains("app.py  \(actual)") && manifest.text.contains("gone.py  (deleted)"))

            #expect(EvidenceClaim(path: "app.py", sha256: actual, contains: "raise SystemExit").rejection(against: manifest, in: tmp.path) == nil)
            #expect(EvidenceClaim(path: "./app.py").rejection(against: manifest, in: tmp.path) == nil)
            let invented = EvidenceClaim(item: "validate", path: "app.py", contains: "if len(argv) == 0")
            #expect(invented.rejection(against: manifest, in: tmp.path)?.contains("does not contain the quoted text") == true)
            let wrongHash = EvidenceClaim(path: "app.py", sha256: String(repeating: "0", count: 64))
            #expect(wrongHash.rejection(against: manifest, in: tmp.path)?.contains("is not the file's") == true)
            #expect(EvidenceClaim(item: "x", path: "missing.py").rejection(against: manifest, in: tmp.path) == "missing.py (for \"x\") does not exist in the clone")
            #expect(EvidenceClaim(path: "old.py").rejection(against: manifest, in: tmp.path) == "old.py was not changed by this attempt")
            #expect(EvidenceClaim(path: tmp.path("app.py")).rejection(against: manifest, in: tmp.path) == nil, "absolute, inside the clone")
            #expect(EvidenceClaim(path: "/etc/passwd").rejection(against: manifest, in: tmp.path) == "/etc/passwd is outside the clone")
            #expect(EvidenceClaim(path: "../x/app.py").rejection(against: manifest, in: tmp.path) == "../x/app.py is outside the clone")
        }
    }
}

@Suite struct ReviewVerdictTests {
    @Test func aVerdictIsTheLastJSONObjectWithAVerdictKeyAmidProse() throws {
        let text = """
            I reviewed the change against the acceptance criteria. An example: {"not": "a verdict"}.
            {"verdict": "CHANGES_REQUESTED", "items": ["Handle empty input", {"file": "app.py", "description": "add a test"}], "confidence": 0.8}
            """
        #expect(
            try ReviewVerdict.parse(text)
                == ReviewVerdict(decision: .changesRequested, items: ["Handle empty input", "app.py: add a test"], confidence: 0.8))
        #expect(try ReviewVerdict.parse(#"{"verdict":"approve","items":[],"confidence":1}"#).decision == .approve)
        #expect(try ReviewVerdict.parse("```json\n{\"verdict\": \"PARTIAL\", \"items\": [\"b\"], \"confidence\": 0.5}\n```").decision == .partial)
    }

    @Test(arguments: [
        ("", "empty"),
        ("The change looks good to me, approve.", "only prose"),
        (#"{"verdict": "APPROVE", "items": [], "confid"#, "truncated JSON"),
        (#"{"verdict": "", "items": [], "confidence": 0.9}"#, "is not APPROVE"),
        (#"{"verdict": "LGTM", "items": [], "confidence": 0.9}"#, "is not APPROVE"),
        (#"{"verdict": "APPROVE", "items": []}"#, "confidence"),
        (#"{"verdict": "APPROVE", "items": [], "confidence": 7}"#, "confidence"),
        (#"{"verdict": "CHANGES_REQUESTED", "items": [], "confidence": 0.9}"#, "lists no items"),
    ])
    func unreadableOutputSaysWhy(text: String, says: String) {
        #expect {
            _ = try ReviewVerdict.parse(text)
        } throws: { error in
            "\(error)".contains(says)
        }
    }
}
