import Foundation
import KeelAgents
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `keel check` and `keel run`'s startup check: every problem a configuration has on this machine,
/// one line each, before any item is spent.
@Suite struct CheckCommandTests {
    @Test func aGoodConfigurationPassesAndABadOneListsEveryProblem() async throws {
        let project = try await UserProject.make(prefix: "keel-check")
        defer { project.tmp.remove() }
        try project.writeAgent()
        let good = """
            forge: {local: {origin: \(project.origin)}}
            ci: {commands: [{name: tests, run: sh tests/run.sh}]}
            agent: {kind: command, command: [./keel-agent.sh]}
            server: {port: 0}

            """
        try Data(good.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        let passed = try await keel(["check"], in: project.repo)
        #expect(passed.outcome.termination == .exited(0), "\(passed.stderr)")
        #expect(passed.stdout.contains("is ready"), "\(passed.stdout)")

        // A port something listens on.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        #expect(listen(listener, 1) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let busyPort = Int(UInt16(bigEndian: address.sin_port))

        try Data("#!/bin/sh\necho hi\n".utf8).write(to: URL(fileURLWithPath: project.repo + "/not-executable.sh"))
        let bad = """
            forge: {local: {origin: \(project.origin), base: trunk}}
            ci: {commands: [{name: tests, run: no-such-test-runner-xyz --all}]}
            agent: {kind: command, command: "./keel-agent.sh --fast"}
            inspect: {reviewer: {kind: command, command: [./not-executable.sh]}}
            server: {port: \(busyPort)}
            alerts: {slack: {webhook_url_env: KEEL_CHECK_UNSET_SLACK_URL}}

            """
        try Data(bad.utf8).write(to: URL(fileURLWithPath: project.repo + "/bad.yml"))
        let failed = try await keel(["check", "--config", "bad.yml"], in: project.repo)
        #expect(failed.outcome.termination == .exited(1))
        let lines = failed.stderr.split(separator: "\n").map(String.init)
        for (key, words) in [
            ("agent.command", "write the command as a list: command: [./keel-agent.sh, --fast]"),
            ("inspect.reviewer.command", "not-executable.sh is not executable"),
            ("forge.local.base", "has no branch trunk"),
            ("ci.commands", "no-such-test-runner-xyz was not found"),
            ("alerts.slack.webhook_url_env", "KEEL_CHECK_UNSET_SLACK_URL is not set"),
            ("server.port", "port \(busyPort) on 127.0.0.1 is already in use"),
        ] {
            #expect(lines.contains { $0.hasPrefix("keel: \(key): ") && $0.contains(words) }, "\(key): \(failed.stderr)")
        }
        #expect(lines.last?.contains("6 problems") == true, "\(failed.stderr)")

        // An origin that is not there at all.
        try Data(good.replacingOccurrences(of: project.origin, with: project.tmp.path("gone.git")).utf8)
            .write(to: URL(fileURLWithPath: project.repo + "/gone.yml"))
        let gone = try await keel(["check", "--config", "gone.yml"], in: project.repo)
        #expect(gone.outcome.termination == .exited(1))
        #expect(gone.stderr.contains("forge.local.origin: the origin \(project.tmp.path("gone.git")) cannot be read"), "\(gone.stderr)")

        // keel run refuses to start with the same list, and creates nothing.
        let run = try await keel(["run", "--config", "bad.yml"], in: project.repo)
        #expect(run.outcome.termination == .exited(1))
        #expect(run.stderr.contains("keel: agent.command: ") && run.stderr.contains("keel: server.port: "), "\(run.stderr)")
        #expect(run.stderr.contains("keel run does not start with 6 problems"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: project.repo + "/.keel/keel.sqlite"))
    }
}
