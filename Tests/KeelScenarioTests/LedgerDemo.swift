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

// MARK: - The project and its ledger

/// A project `keel demo` built (shared by the ledger scenario tests): merged work and a signed ledger of a few dozen events.
struct LedgerDemo {
    let dir: String
    var config: String { dir + "/keel.yml" }
    var database: String { dir + "/.keel/keel.sqlite" }
    var key: String { dir + "/.keel/ledger/signing-key.json" }

    /// A project of its own for one test: a copy of one `keel demo` run per test process (the demo
    /// runs the whole pipeline; dozens of ledger tests each running it made the suite's load, not
    /// its checks, the slowest part). The copy has the demo's database, key, genesis file and
    /// origin, all with relative paths, so it is a project in its own right.
    static func make(in tmp: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) async throws -> LedgerDemo {
        let template = try await DemoTemplate.shared.directory()
        let dir = tmp.path("demo")
        let copy = try await ProcessRunner().capture(
            ProcessSpec(executable: "/bin/cp", arguments: ["-a", template, dir], workingDirectory: tmp.path, wallClockLimit: .seconds(120)))
        try #require(copy.outcome.termination == .exited(0), "cp -a \(template) \(dir): \(copy.stderr)", sourceLocation: sourceLocation)
        return LedgerDemo(dir: dir)
    }

    /// `keel ARGS --config <demo>/keel.yml`, run from the demo directory.
    func keel(_ arguments: [String]) async throws -> CapturedOutput {
        try await KeelScenarioTests.keel(arguments + ["--config", config], in: dir)
    }

    func identity() async throws -> Identity {
        let run = try await keel(["ledger", "identity"])
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
        return try Identity(document: run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func status() async throws -> LedgerStatusReport {
        let run = try await keel(["ledger", "status", "--json"])
        try #require(run.outcome.termination == .exited(0), "\(run.stdout)\(run.stderr)")
        return try JSONDecoder().decode(LedgerStatusReport.self, from: Data(run.stdout.utf8))
    }

    func ledgerCount() async throws -> Int64 {
        try #require(Int64(try await sql("SELECT count(*) FROM ledger_events").trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Rows of `query` against the store, read by Python's sqlite3 (not by Keel): `|` between
    /// columns, one row a line.
    func sql(_ query: String) async throws -> String {
        let run = try await python(
            """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for row in db.execute(sys.argv[2]):
                print("|".join("" if v is None else str(v) for v in row))
            """, [database, query], in: dir)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
        return run.stdout
    }

    /// Edits the stored text of the submission stamped at `seq` behind Keel's back, as someone
    /// with write access to the database file could: one letter of its `reason`.
    func tamperWithSubmission(seq: Int64) async throws {
        try await edit(seq: seq, replacing: #""reason":"submitted""#, with: #""reason":"Submitted""#)
    }

    /// Replaces `old` with `new` in the stored text of the event at `seq`, behind Keel's back.
    func edit(seq: Int64, replacing old: String, with new: String) async throws {
        let run = try await python(
            """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            changed = db.execute(
                "UPDATE ledger_events SET event = replace(event, ?1, ?2) WHERE seq = ?3 AND instr(event, ?1) > 0",
                (sys.argv[3], sys.argv[4], int(sys.argv[2]))).rowcount
            db.commit()
            print(changed)
            """, [database, String(seq), old, new], in: dir)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
        try #require(run.stdout == "1\n", "the event at seq \(seq) was not edited (no \(old) in it): \(run.stdout)")
    }
}

/// Runs a Python 3 program to completion in `KEEL_PYTHON` (the interpreter that has `aiss-standard`).
func python(_ program: String, _ arguments: [String], in dir: String) async throws -> CapturedOutput {
    try await ProcessRunner().capture(
        ProcessSpec(executable: ReferenceAiss.python, arguments: ["-c", program] + arguments, workingDirectory: dir, wallClockLimit: .seconds(120)))
}

/// One line of text, as a refused command prints it (never a stack trace).
func oneLine(_ text: String) -> Bool {
    text.split(separator: "\n").count == 1
}

/// `keel ledger identity`: the AISS-1.0 identity document, kept verbatim for `--public-key FILE`.
struct Identity {
    let document: String
    let agentID: String
    let publicKey: String

    init(document: String) throws {
        struct Fields: Decodable { var agent_id: String; var public_key: String }
        let fields = try JSONDecoder().decode(Fields.self, from: Data(document.utf8))
        self.document = document
        agentID = fields.agent_id
        publicKey = fields.public_key
    }
}

/// `keel ledger verify --bundle ... --json`.
struct BundleVerification: Decodable {
    struct Break: Decodable { var index: Int; var seq: Int64?; var kind: String; var message: String }
    var valid: Bool
    var events: Int
    var agent_id: String
    var pinned: Bool
    var breaks: [Break]
}

/// `keel ledger status --json`.
struct LedgerStatusReport: Decodable {
    struct Break: Decodable { var id: Int64; var seq: Int64?; var kind: String; var detected_at: String; var deadline: String; var decision: String? }
    var status: String
    var events: Int64
    var breaks: [Break]
}

/// The one `keel demo` project a test process copies for its ledger tests (see ``LedgerDemo/make(in:sourceLocation:)``).
actor DemoTemplate {
    static let shared = DemoTemplate()
    // The template is left in the temporary directory when the process ends (a few hundred KB).
    private var built: Task<String, any Error>?

    /// The template's directory, built by the first caller; a failed build is retried by the next.
    func directory() async throws -> String {
        if let built, let path = try? await built.value { return path }
        let task = Task<String, any Error> {
            let root = try TemporaryDirectory(prefix: "keel-demo-template")
            let run = try await KeelScenarioTests.keel(["demo", "--dir", root.path("demo")], in: root.path)
            guard run.outcome.termination == .exited(0) else {
                root.remove()
                throw RepoBuilderError(message: "keel demo failed:\n\(run.stdout)\n\(run.stderr)")
            }
            return root.path("demo")
        }
        built = task
        return try await task.value
    }
}
