import Foundation
import KeelAgents
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Raw internals never reach a person: each of these prints one line saying what and what to do.
@Suite struct PlainErrorsTests {
    func project() async throws -> UserProject {
        let project = try await UserProject.make(prefix: "keel-plain")
        try project.writeAgent()
        let config = """
            forge: {local: {origin: \(project.origin)}}
            ci: {commands: [{name: tests, run: sh tests/run.sh}]}
            agent: {kind: command, command: [./keel-agent.sh]}

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        return project
    }

    /// One line on stderr, starting `keel: `, with none of Swift's or the socket layer's words.
    func expectOneLine(_ run: CapturedOutput, saying words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = run.stderr.split(separator: "\n")
        #expect(run.outcome.termination == .exited(1), sourceLocation: sourceLocation)
        #expect(lines.count == 1 && lines[0].hasPrefix("keel: ") && run.stderr.contains(words), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(!run.stderr.contains("Error:") && !run.stderr.contains("errno") && !run.stderr.contains("Swift"), "\(run.stderr)", sourceLocation: sourceLocation)
    }

    @Test func aBodyFileThatIsNotUTF8IsRefusedInOneLineAndNothingIsFiled() async throws {
        let project = try await project()
        defer { project.tmp.remove() }
        try Data([0x68, 0x69, 0x20, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: project.repo + "/latin.md"))
        let run = try await keel(["submit", "--title", "Say hello", "--body-file", "latin.md"], in: project.repo)
        expectOneLine(run, saying: "the body file latin.md is not UTF-8 text (first invalid byte at offset 3): save it as UTF-8")
        let piped = try await keel(["submit", "--title", "Say hello", "--body-file", "-"], in: project.repo, stdin: "caf\u{E9}\n")
        #expect(piped.outcome.termination == .exited(0), "valid UTF-8 on stdin is filed: \(piped.stderr)")
        let status = try await keel(["status", "--json"], in: project.repo)
        #expect(status.stdout.components(separatedBy: "\"id\" :").count == 2, "only the UTF-8 body was filed: \(status.stdout)")
    }

    @Test func aTitleWithALineBreakIsRefused() async throws {
        let project = try await project()
        defer { project.tmp.remove() }
        let run = try await keel(["submit", "--title", "Say hello\nand goodbye", "--body-file", try project.writeIssue("x\n")], in: project.repo)
        expectOneLine(run, saying: "--title holds a line break")
    }

    @Test func aPortInUseIsOneLine() async throws {
        let project = try await project()
        defer { project.tmp.remove() }
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        #expect(listen(listener, 1) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let run = try await keel(["run", "--port", String(port)], in: project.repo)
        #expect(run.stderr.contains("keel: server.port: port \(port) on 127.0.0.1 is already in use; stop what listens there"), "\(run.stderr)")
        #expect(run.outcome.termination == .exited(1) && !run.stderr.contains("errno") && !run.stderr.contains("Error:"), "\(run.stderr)")
    }

    @Test func versionIsPrinted() async throws {
        let run = try await keel(["--version"], in: FileManager.default.temporaryDirectory.path)
        #expect(run.outcome.termination == .exited(0))
        #expect(run.stdout.hasPrefix("keel ") && run.stdout.contains("."), "\(run.stdout)")
    }
}
