import Foundation
import KeelGit
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs `keel ARGS` to completion in `dir`.
func keel(_ arguments: [String], in dir: String, stdin: String? = nil) async throws -> CapturedOutput {
    try await ProcessRunner().capture(
        ProcessSpec(
            executable: try KeelBinary.path, arguments: arguments, workingDirectory: dir, standardInput: stdin,
            wallClockLimit: .seconds(600)))
}

/// A `keel run` started in the background, as a person starts it in a terminal.
final class KeelServerProcess: @unchecked Sendable {
    // Foundation.Process is not Sendable; this wrapper is only touched by the test that owns it.
    let process = Process()
    let logPath: String

    /// `environment` is added to (or overrides) the test's own environment, as `VAR=value keel run` does.
    /// `arguments` are added after `run --config CONFIG --port 0`.
    init(config: String, in dir: String, log: String, environment: [String: String] = [:], arguments: [String] = []) throws {
        logPath = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: try KeelBinary.path)
        process.arguments = ["run", "--config", config, "--port", "0"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for exit (bounded); returns the exit status, or nil when it did not exit in time.
    func waitForExit(seconds: Double = 60) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(100)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The port from `keel: serving http://HOST:PORT ...`, once keel run has logged it.
    var servingPort: Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("serving http://") }),
            let address = line.split(separator: " ").first(where: { $0.hasPrefix("http://") }),
            let port = address.split(separator: ":").last
        else { return nil }
        return Int(port)
    }
}

/// GET `path` from the `keel run` serving on `port`, over loopback with curl (a real HTTP client,
/// no test-only code path); the body.
func keelPage(port: String, path: String) async throws -> String {
    try await ProcessRunner().capture(
        ProcessSpec(
            executable: "/usr/bin/env", arguments: ["curl", "--silent", "--noproxy", "*", "http://127.0.0.1:\(port)\(path)"],
            wallClockLimit: .seconds(30))
    ).stdout
}

/// Polls `condition` until it holds or `seconds` pass; true when it held.
func eventually(seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(200))
    }
    return try await condition()
}

/// True when no live process has this pid (a zombie counts as gone: it runs nothing).
func processIsGone(_ pid: Int) -> Bool {
    if kill(pid_t(pid), 0) != 0 { return true }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    guard let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
}

/// Every item's timeline is a chain: each transition starts where the previous one ended.
func expectContiguousTimelines(_ store: any Store, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    for item in try await store.items() {
        let timeline = try await store.transitions(of: item.id)
        #expect(timeline.first?.from == nil, "item #\(item.id) does not start with its creation", sourceLocation: sourceLocation)
        for (previous, next) in zip(timeline, timeline.dropFirst()) {
            #expect(next.from == previous.to, "item #\(item.id): \(previous.to) is followed by a transition from \(String(describing: next.from))", sourceLocation: sourceLocation)
        }
        #expect(timeline.last?.to == item.state, "item #\(item.id) state \(item.state) differs from its last transition", sourceLocation: sourceLocation)
    }
}

/// A user's project: a bare origin with a test script, and a work clone of it.
struct UserProject {
    let tmp: TemporaryDirectory
    let origin: String
    let repo: String
    let repos: RepoBuilder

    static func make(prefix: String) async throws -> UserProject {
        let tmp = try TemporaryDirectory(prefix: prefix)
        let repos = RepoBuilder(root: tmp.path)
        let origin = try await repos.makeOrigin(files: [
            "README.md": "# greeter\n",
            // Every greeting file must say hello: the CI the agent's work has to pass.
            "tests/run.sh": "#!/bin/sh\nset -e\nfor f in greeting-*.txt; do [ -e \"$f\" ] || continue; grep -q '^hello' \"$f\" || { echo \"FAIL $f\"; exit 1; }; done\necho ok\n",
        ])
        let repo = tmp.path("repo")
        try await repos.git.clone(origin, into: repo)
        return UserProject(tmp: tmp, origin: origin, repo: repo, repos: repos)
    }

    /// A `command` agent: reads the prompt on stdin, writes a greeting file, prints a Claude-style result line.
    func writeAgent(sleepSeconds: Int = 0, name: String = "keel-agent.sh") throws {
        let script = """
            #!/bin/sh
            cat > /dev/null
            echo "agent working on item $KEEL_ITEM_ID attempt $KEEL_ATTEMPT"
            printf 'hello from item %s\\n' "$KEEL_ITEM_ID" > "greeting-$KEEL_ITEM_ID.txt"
            i=0
            while [ "$i" -lt \(sleepSeconds) ]; do sleep 1; echo "still working"; i=$((i + 1)); done
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":0.0125,"usage":{"input_tokens":100,"output_tokens":20}}'

            """
        let path = repo + "/" + name
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// The project's keel.yml: its origin, `tests/run.sh` as CI, `./keel-agent.sh` as a command
    /// agent, and `scheduler` (YAML lines, indented under `scheduler:`).
    static func config(origin: String, scheduler: String) -> String {
        """
        project: greeter
        forge:
          local:
            origin: \(origin)
        ci:
          commands: [sh tests/run.sh]
        agent:
          kind: command
          command: [./keel-agent.sh]
        scheduler:
        \(scheduler.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        """
    }

    /// Writes ``config(origin:scheduler:)`` as the project's keel.yml.
    func writeConfig(scheduler: String) throws {
        try Data(Self.config(origin: origin, scheduler: scheduler).utf8).write(to: URL(fileURLWithPath: repo + "/keel.yml"))
    }

    func writeIssue(_ text: String, name: String = "issue.md") throws -> String {
        let path = repo + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The subjects of the origin's base branch, newest first.
    func baseLog() async throws -> [String] {
        try await repos.git.run(["log", "--format=%s", "main"], in: origin).split(separator: "\n").map(String.init)
    }
}
