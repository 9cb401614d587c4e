import Foundation
import KeelAgents
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines received through `onLine`, in arrival order.
final class LineLog: Sendable {
    private let entries = Mutex<[(KeelAgents.OutputStream, String)]>([])

    func append(_ stream: KeelAgents.OutputStream, _ line: String) {
        entries.withLock { $0.append((stream, line)) }
    }

    func lines(_ stream: KeelAgents.OutputStream) -> [String] {
        entries.withLock { $0.filter { $0.0 == stream }.map(\.1) }
    }
}

/// A value shared with `@Sendable` callbacks (a bare local `Mutex` cannot be captured).
final class Locked<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        storage = Mutex(value)
    }

    var value: Value { storage.withLock { $0 } }

    func set(_ value: Value) {
        storage.withLock { $0 = value }
    }
}

private func shell(
    _ script: String,
    stdin: String? = nil,
    wallClock: Duration? = nil,
    inactivity: Duration? = nil,
    transcript: String? = nil,
    redactions: [String] = []
) -> ProcessSpec {
    ProcessSpec(
        executable: "/bin/sh",
        arguments: ["-c", script],
        standardInput: stdin,
        wallClockLimit: wallClock,
        inactivityLimit: inactivity,
        transcriptPath: transcript,
        redactions: redactions
    )
}

/// Whether `pid` is a live, running process. A killed orphan can linger as a zombie when
/// PID 1 does not reap (as in some containers); a zombie runs nothing, so it counts as dead.
private func isRunning(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let nameEnd = stat.lastIndex(of: ")"),
        let state = stat[nameEnd...].dropFirst(2).first
    {
        return state != "Z"
    }
    return true
}

/// Waits up to two seconds for `pid` to stop running.
private func hasStopped(_ pid: Int32) async -> Bool {
    for _ in 0..<100 {
        if !isRunning(pid) { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return !isRunning(pid)
}

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "keel-process-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

private func isSignaled(_ termination: Termination) -> Bool {
    if case .signaled = termination { return true }
    return false
}

@Suite struct ProcessRunnerTests {
    @Test func terminationsReadAsWords() {
        #expect(Termination.exited(3).words == "exited with status 3")
        #expect(Termination.signaled(9).words == "was killed by signal 9 (SIGKILL)")
        #expect(Termination.signaled(64).words == "was killed by signal 64")
    }

    let runner = ProcessRunner()

    @Test func outputLinesArriveInOrderPerStream() async throws {
        let log = LineLog()
        let outcome = try await runner.run(shell("for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"), onLine: { log.append($0, $1) })
        #expect(outcome.succeeded)
        #expect(outcome.termination == .exited(0))
        #expect(log.lines(.stdout) == ["out1", "out2", "out3", "out4", "out5"])
        #expect(log.lines(.stderr) == ["err1", "err2", "err3", "err4", "err5"])
        #expect(outcome.stdoutTail == "out1\nout2\nout3\nout4\nout5\n")
    }

    @Test func onStartReceivesTheProcessGroupLeaderBeforeAnyLine() async throws {
        let started = Locked<Int32?>(nil)
        let group = Locked<Int32?>(nil)
        let sawStartFirst = Locked(true)
        let outcome = try await runner.run(shell("echo $$")) { pid in
            group.set(getpgid(pid))
            started.set(pid)
        } onLine: { _, _ in
            if started.value == nil { sawStartFirst.set(false) }
        }
        #expect(sawStartFirst.value)
        #expect(started.value == outcome.pid)
        #expect(group.value == outcome.pid)
        #expect(outcome.stdoutTail == "\(outcome.pid)\n")
    }

    @Test func lastLineWithoutNewlineIsDelivered() async throws {
        let log = LineLog()
        _ = try await runner.run(shell("printf 'one\\ntwo'"), onLine: { log.append($0, $1) })
        #expect(log.lines(.stdout) == ["one", "two"])
    }

    @Test func carriageReturnsAndLineSeparatorsDoNotSplitLines() async throws {
        let log = LineLog()
        _ = try await runner.run(shell("printf 'a\\rb\\342\\200\\250c\\nd\\n'"), onLine: { log.append($0, $1) })
        #expect(log.lines(.stdout) == ["a\rb\u{2028}c", "d"])
    }

    @Test func standardInputIsDeliveredThenClosed() async throws {
        let log = LineLog()
        let outcome = try await runner.run(shell("cat", stdin: "hello\nworld\n"), onLine: { log.append($0, $1) })
        #expect(outcome.succeeded)
        #expect(log.lines(.stdout) == ["hello", "world"])
    }

    @Test func largeStandardInputIsDeliveredWhole() async throws {
        let input = String(repeating: "0123456789", count: 100_000)
        let captured = try await runner.capture(shell("wc -c", stdin: input))
        #expect(captured.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1000000")
    }

    @Test func unreadStandardInputDoesNotHurtTheRunner() async throws {
        let input = String(repeating: "x", count: 1_000_000)
        let outcome = try await runner.run(shell("exit 4", stdin: input))
        #expect(outcome.termination == .exited(4))
    }

    @Test func withoutStandardInputTheChildReadsEndOfFile() async throws {
        let captured = try await runner.capture(shell("cat; echo done"))
        #expect(captured.stdout == "done\n")
    }

    @Test func exitCodesAndSignalsAreReported() async throws {
        let three = try await runner.run(shell("exit 3"))
        #expect(three.termination == .exited(3))
        #expect(!three.succeeded)
        #expect(three.timedOut == nil && !three.cancelled)

        let killed = try await runner.run(shell("kill -9 $$"))
        #expect(killed.termination == .signaled(SIGKILL))
    }

    @Test func silentHangingProcessIsKilledByTheInactivityLimit() async throws {
        let outcome = try await runner.run(shell("echo started; sleep 30", inactivity: .seconds(1)))
        #expect(outcome.timedOut == .inactivity)
        #expect(isSignaled(outcome.termination))
        #expect(!outcome.succeeded)
        #expect(outcome.stdoutTail == "started\n")
    }

    @Test func aLineThatSettlesTheRunStopsTheWholeGroup() async throws {
        // A CLI that retries what cannot succeed: the first retry line settles the run.
        let log = LineLog()
        let outcome = try await runner.run(
            shell("echo working; echo 'retry 1: 401'; sleep 30 & wait; echo never", inactivity: .seconds(60)),
            watch: { stream, line in
                log.append(stream, line)
                return line.hasPrefix("retry") ? .stop("the key was refused") : .proceed
            }
        )
        #expect(outcome.stopped == "the key was refused")
        #expect(outcome.timedOut == nil && !outcome.cancelled && !outcome.succeeded)
        #expect(isSignaled(outcome.termination))
        #expect(log.lines(.stdout) == ["working", "retry 1: 401"], "nothing ran after the stop")
    }

    @Test func linesThatProceedLeaveTheRunAlone() async throws {
        let outcome = try await runner.run(shell("echo one; echo two"), watch: { _, _ in .proceed })
        #expect(outcome.succeeded && outcome.stopped == nil)
    }

    @Test func chattyProcessIsKilledByTheWallClockLimit() async throws {
        let log = LineLog()
        let outcome = try await runner.run(
            shell("while true; do echo tick; sleep 0.2; done", wallClock: .seconds(1), inactivity: .seconds(60)),
            onLine: { log.append($0, $1) }
        )
        #expect(outcome.timedOut == .wallClock)
        #expect(isSignaled(outcome.termination))
        #expect(!log.lines(.stdout).isEmpty)
    }

    @Test func processThatClosesItsOutputIsStillTimedOut() async throws {
        let outcome = try await runner.run(shell("exec >/dev/null 2>&1; sleep 30", wallClock: .seconds(1)))
        #expect(outcome.timedOut == .wallClock)
        #expect(isSignaled(outcome.termination))
    }

    @Test func grandchildHoldingThePipeIsKilledWithTheGroup() async throws {
        let log = LineLog()
        let outcome = try await runner.run(shell("sleep 300 & echo $!; exit 0", inactivity: .seconds(1)), onLine: { log.append($0, $1) })
        #expect(outcome.timedOut == .inactivity)
        #expect(outcome.termination == .exited(0))
        let grandchild = try #require(log.lines(.stdout).first.flatMap { Int32($0) })
        #expect(await hasStopped(grandchild))
    }

    @Test func processIgnoringSigtermIsKilledAfterTheGrace() async throws {
        let outcome = try await runner.run(shell("trap '' TERM; echo ready; sleep 30", inactivity: .seconds(1)))
        #expect(outcome.timedOut == .inactivity)
        #expect(outcome.termination == .signaled(SIGKILL))
    }

    @Test func lineLongerThanOneMebibyteArrivesWhole() async throws {
        let log = LineLog()
        let outcome = try await runner.run(shell("head -c 1500000 /dev/zero | tr '\\0' x; echo; echo done"), onLine: { log.append($0, $1) })
        #expect(outcome.succeeded)
        let lines = log.lines(.stdout)
        #expect(lines.count == 2)
        #expect(lines.first?.utf8.count == 1_500_000)
        #expect(lines.first?.allSatisfy { $0 == "x" } == true)
        #expect(lines.last == "done")
        #expect(outcome.stdoutTail.utf8.count == 64 * 1024)
    }

    @Test func secretsAreRedactedInTranscriptsLinesAndTails() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let transcript = directory + "/runs/42/agent.jsonl"
        let secret = "sk-test-0123456789"
        let log = LineLog()
        let outcome = try await runner.run(
            shell(
                "echo \"key=$KEY, again $KEY\"; echo \"stderr $KEY\" >&2",
                transcript: transcript,
                redactions: [secret]
            ).with(environment: ["KEY": secret]),
            onLine: { log.append($0, $1) }
        )
        #expect(outcome.succeeded)
        #expect(log.lines(.stdout) == ["key=[REDACTED], again [REDACTED]"])
        #expect(log.lines(.stderr) == ["stderr [REDACTED]"])
        #expect(try String(contentsOfFile: transcript, encoding: .utf8) == "key=[REDACTED], again [REDACTED]\n")
        #expect(try String(contentsOfFile: transcript + ".stderr", encoding: .utf8) == "stderr [REDACTED]\n")
        #expect(outcome.stdoutTail == "key=[REDACTED], again [REDACTED]\n")
        #expect(outcome.stderrTail == "stderr [REDACTED]\n")
    }

    @Test func transcriptFilesAreReadableOnlyByTheOwner() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let transcript = directory + "/nested/out.log"
        // A stale transcript with a wider mode must not keep it.
        try FileManager.default.createDirectory(atPath: directory + "/nested", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: transcript, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])

        _ = try await runner.run(shell("echo hi; echo ho >&2", transcript: transcript))
        for path in [transcript, transcript + ".stderr"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        }
        #expect(try String(contentsOfFile: transcript, encoding: .utf8) == "hi\n")
    }

    @Test func unwritableTranscriptThrowsBeforeLaunching() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let blocker = directory + "/file"
        _ = FileManager.default.createFile(atPath: blocker, contents: Data())
        let marker = directory + "/ran"
        await #expect(throws: ProcessError.self) {
            _ = try await runner.run(shell("touch \(marker)", transcript: blocker + "/sub/out.log"))
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func cancellingTheTaskKillsTheProcess() async throws {
        let (starts, startContinuation) = AsyncStream.makeStream(of: Int32.self)
        let runner = self.runner
        let task = Task {
            try await runner.run(shell("echo running; sleep 30")) { pid in
                startContinuation.yield(pid)
            }
        }
        var iterator = starts.makeAsyncIterator()
        let pid = try #require(await iterator.next())
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        let outcome = try await task.value
        #expect(outcome.cancelled)
        #expect(outcome.timedOut == nil)
        #expect(isSignaled(outcome.termination))
        #expect(outcome.pid == pid)
        #expect(await hasStopped(pid))
    }

    @Test func alreadyCancelledTaskDoesNotLaunch() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = directory + "/ran"
        let runner = self.runner
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await runner.run(shell("touch \(marker)"))
        }
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func missingExecutableThrowsLaunchFailedNamingIt() async throws {
        let error = await #expect(throws: ProcessError.self) {
            _ = try await runner.run(ProcessSpec(executable: "keel-no-such-tool-xyz"))
        }
        #expect(error?.code == .launchFailed)
        #expect(error?.message.contains("keel-no-such-tool-xyz") == true)
        #expect(error?.message.contains("PATH") == true)

        let byPath = await #expect(throws: ProcessError.self) {
            _ = try await runner.run(ProcessSpec(executable: "/nonexistent/keel-tool"))
        }
        #expect(byPath?.code == .launchFailed)
        #expect(byPath?.message.contains("/nonexistent/keel-tool") == true)
    }

    @Test func missingWorkingDirectoryThrowsLaunchFailed() async throws {
        let error = await #expect(throws: ProcessError.self) {
            _ = try await runner.run(ProcessSpec(executable: "/bin/sh", arguments: ["-c", "true"], workingDirectory: "/nonexistent/keel-dir"))
        }
        #expect(error?.code == .launchFailed)
        #expect(error?.message.contains("/nonexistent/keel-dir") == true)
    }

    @Test func environmentIsAddedUnsetAndInherited() async throws {
        setenv("KEEL_TEST_INHERITED", "from-parent", 1)
        setenv("KEEL_TEST_REMOVED", "should-not-show", 1)
        var spec = ProcessSpec(
            executable: "sh",
            arguments: ["-c", "echo \"$KEEL_TEST_ADDED|$KEEL_TEST_INHERITED|${KEEL_TEST_REMOVED-unset}\""],
            environment: ["KEEL_TEST_ADDED": "added"]
        )
        spec.unsetEnvironment = ["KEEL_TEST_REMOVED"]
        let captured = try await runner.capture(spec)
        #expect(captured.stdout == "added|from-parent|unset\n")
    }

    @Test func workingDirectoryIsApplied() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let captured = try await runner.capture(ProcessSpec(executable: "/bin/sh", arguments: ["-c", "pwd -P"], workingDirectory: directory))
        let expected = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        #expect(captured.stdout == expected + "\n")
    }

    @Test func captureKeepsTheStartOfOversizedOutput() async throws {
        let captured = try await runner.capture(shell("echo first; head -c 17000000 /dev/zero | tr '\\0' x"))
        #expect(captured.stdoutTruncated)
        #expect(captured.stdout.utf8.count == ProcessRunner.captureLimit)
        #expect(captured.stdout.hasPrefix("first\nxxx"))
        #expect(captured.outcome.succeeded)
    }

    @Test func captureCollectsBothStreamsExactly() async throws {
        let captured = try await runner.capture(shell("printf 'out\\n\\nlast'; printf 'err' >&2; exit 2"))
        #expect(captured.stdout == "out\n\nlast")
        #expect(captured.stderr == "err")
        #expect(captured.outcome.termination == .exited(2))
        #expect(!captured.stdoutTruncated && !captured.stderrTruncated)
    }
}

extension ProcessSpec {
    fileprivate func with(environment: [String: String]) -> ProcessSpec {
        var copy = self
        copy.environment = environment
        return copy
    }
}
