import Foundation
import KeelAgents
import KeelGit
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A project whose database went missing is not silently started over: read-only commands say
/// where they looked and create nothing; `keel run` and `keel submit` refuse while the signing key
/// or the origin shows there was a store, until a person puts it back or passes `--new-store`.
@Suite struct StoreHistoryTests {
    @Test func readOnlyCommandsOnAMissingDatabaseNameItsPathAndCreateNothing() async throws {
        let project = try await StoreProject.make(prefix: "keel-store-readonly")
        defer { project.tmp.remove() }
        try await project.submit("Say hello")
        try project.deleteDatabase()

        let export = project.tmp.path("audit.json")
        for args in [["status"], ["status", "1"], ["cost"], ["ledger", "verify"], ["ledger", "status"], ["ledger", "export", "--out", export]] {
            let run = try await keel(args, in: project.repo)
            #expect(run.outcome.termination == .exited(1), "keel \(args): \(run.stdout)\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "keel \(args): \(run.stderr)")
            #expect(run.stderr.contains("no Keel database at \(project.database)"), "keel \(args): \(run.stderr)")
            #expect(!run.stdout.contains("intact") && !run.stdout.contains("0 events"), "keel \(args): \(run.stdout)")
            let created = try project.databaseFiles()
            #expect(created.isEmpty, "keel \(args) created \(created)")
        }
        #expect(!FileManager.default.fileExists(atPath: export))
    }

    @Test func runAndSubmitRefuseANewStoreWhenTheKeyHasSignedBeforeUntilNewStore() async throws {
        let project = try await StoreProject.make(prefix: "keel-store-key")
        defer { project.tmp.remove() }
        try await project.submit("Say hello")
        let key = try String(contentsOfFile: project.key, encoding: .utf8)
        #expect(key.contains("\"signing_since\":"), "the key file does not record that it signs: \(key)")
        #expect(try FileManager.default.attributesOfItem(atPath: project.key)[.posixPermissions] as? Int == 0o600)
        try project.deleteDatabase()

        for args in [["submit", "--title", "Again", "--body-file", project.issue], ["run", "--port", "0"]] {
            let run = try await keel(args, in: project.repo)
            #expect(run.outcome.termination == .exited(1), "keel \(args): \(run.stdout)\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "keel \(args): \(run.stderr)")
            #expect(run.stderr.contains("no Keel database at \(project.database)"), "keel \(args): \(run.stderr)")
            #expect(run.stderr.contains("the signing key \(project.key) has signed a ledger since"), "keel \(args): \(run.stderr)")
            #expect(run.stderr.contains("database file back") && run.stderr.contains("--new-store") && run.stderr.contains("ledger.backup"), "keel \(args): \(run.stderr)")
            let created = try project.databaseFiles()
            #expect(created.isEmpty, "keel \(args) created \(created)")
        }

        let fresh = try await keel(["submit", "--title", "On purpose", "--body-file", project.issue, "--new-store"], in: project.repo)
        #expect(fresh.outcome.termination == .exited(0), "\(fresh.stderr)")
        #expect(fresh.stdout.contains("Filed #1 On purpose"), "\(fresh.stdout)")
        let status = try await keel(["status"], in: project.repo)
        #expect(status.outcome.termination == .exited(0) && status.stdout.contains("On purpose"), "\(status.stdout)\(status.stderr)")

        try project.deleteDatabase()
        try await project.expectRunStartsWithNewStore()
    }

    @Test func runAndSubmitRefuseANewStoreWhenTheOriginHasItemBranchesUntilNewStore() async throws {
        let project = try await StoreProject.make(prefix: "keel-store-branches")
        defer { project.tmp.remove() }
        // The unmerged work of an item waiting for a person; the key that signed it is gone too.
        _ = try await project.user.repos.git.run(["push", "-q", "origin", "HEAD:refs/heads/keel/item-6"], in: project.repo)
        #expect(!FileManager.default.fileExists(atPath: project.key))

        for args in [["submit", "--title", "Again", "--body-file", project.issue], ["run", "--port", "0"]] {
            let run = try await keel(args, in: project.repo)
            #expect(run.outcome.termination == .exited(1), "keel \(args): \(run.stdout)\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "keel \(args): \(run.stderr)")
            #expect(run.stderr.contains("the origin \(project.user.origin) has keel/item-6"), "keel \(args): \(run.stderr)")
            #expect(!run.stderr.contains("signing key"), "keel \(args): \(run.stderr)")
            #expect(run.stderr.contains("--new-store"), "keel \(args): \(run.stderr)")
            let created = try project.databaseFiles()
            #expect(created.isEmpty, "keel \(args) created \(created)")
            #expect(!FileManager.default.fileExists(atPath: project.key), "keel \(args) created a signing key")
        }

        try await project.expectRunStartsWithNewStore()
        let fresh = try await keel(["submit", "--title", "On purpose", "--body-file", project.issue], in: project.repo)
        #expect(fresh.outcome.termination == .exited(0), "the store --new-store started is used from then on: \(fresh.stderr)")
    }
}

/// A `UserProject` after `keel init`, with the paths of its store and key.
private struct StoreProject {
    let user: UserProject
    let issue: String
    var tmp: TemporaryDirectory { user.tmp }
    var repo: String { user.repo }
    var database: String { repo + "/.keel/keel.sqlite" }
    var key: String { repo + "/.keel/ledger/signing-key.json" }

    static func make(prefix: String) async throws -> StoreProject {
        let user = try await UserProject.make(prefix: prefix)
        let initRun = try await keel(["init", "--agent", "command"], in: user.repo)
        try #require(initRun.outcome.termination == .exited(0), "\(initRun.stderr)")
        // The script `keel init --agent command` names: `keel run` checks that it exists before anything else.
        try user.writeAgent()
        return StoreProject(user: user, issue: try user.writeIssue("Add a greeting file.\n"))
    }

    func submit(_ title: String) async throws {
        let run = try await keel(["submit", "--title", title, "--body-file", issue], in: repo)
        try #require(run.outcome.termination == .exited(0), "\(run.stderr)")
    }

    /// The database and its WAL files, as someone cleaning up `.keel` by hand deletes them.
    func deleteDatabase() throws {
        for file in try databaseFiles() { try FileManager.default.removeItem(atPath: repo + "/.keel/" + file) }
        try #require(try databaseFiles().isEmpty)
    }

    func databaseFiles() throws -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: repo + "/.keel")) ?? []
        return entries.filter { $0.hasPrefix("keel.sqlite") }.sorted()
    }

    /// `keel run --new-store` starts on a new store, serves, and stops cleanly.
    func expectRunStartsWithNewStore(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let server = try KeelServerProcess(config: repo + "/keel.yml", in: repo, log: tmp.path("run.log"), arguments: ["--new-store"])
        defer { if server.process.isRunning { server.signal(SIGKILL) } }
        let serving = await eventually(seconds: 60) { server.log.contains("serving http://") || !server.process.isRunning }
        #expect(serving && server.process.isRunning, "keel run --new-store did not start:\n\(server.log)", sourceLocation: sourceLocation)
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0, "\(server.log)", sourceLocation: sourceLocation)
        #expect(server.log.contains("audit ledger valid"), "\(server.log)", sourceLocation: sourceLocation)
        #expect(FileManager.default.fileExists(atPath: database), sourceLocation: sourceLocation)
    }
}
