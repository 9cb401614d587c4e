import Foundation
import KeelCore
import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// What to run, and how Keel supervises it.
///
/// ```swift
/// let spec = ProcessSpec(
///     executable: "claude",
///     arguments: ["-p", "--output-format", "stream-json", "--verbose"],
///     environment: ["ANTHROPIC_API_KEY": key],
///     workingDirectory: clone,
///     standardInput: prompt,
///     wallClockLimit: .seconds(3600),
///     inactivityLimit: .seconds(600),
///     transcriptPath: "\(runDirectory)/claude.jsonl",
///     redactions: [key]
/// )
/// ```
public struct ProcessSpec: Sendable {
    /// An absolute path, or a name looked up on `PATH` (the child's, when ``environment``
    /// sets one).
    public var executable: String
    /// The arguments, without the executable.
    public var arguments: [String]
    /// Variables added to (or overriding) the environment Keel itself inherited; the whole
    /// environment when ``inheritsEnvironment`` is false.
    public var environment: [String: String]
    /// Whether the child starts from Keel's own environment. An agent does not: it gets exactly
    /// ``environment``, so that Keel's secrets (its admin token, mail password, cloud keys) stay
    /// out of its reach.
    public var inheritsEnvironment = true
    /// Variables removed from the inherited environment (for instance `GIT_DIR`), applied
    /// before ``environment``.
    public var unsetEnvironment: [String] = []
    /// The child's working directory; Keel's own when nil.
    public var workingDirectory: String?
    /// Written to the child's standard input, which is then closed; nil gives it `/dev/null`.
    public var standardInput: String?
    /// The longest the process may run before Keel stops it.
    public var wallClockLimit: Duration?
    /// The longest the process may go without writing a byte to stdout or stderr before Keel
    /// stops it.
    public var inactivityLimit: Duration?
    /// Where stdout is written verbatim (after redaction) as it arrives; stderr goes to this
    /// path + ".stderr". Parent directories are created; the files are mode 0600.
    public var transcriptPath: String?
    /// Secrets: every occurrence (and every well-known credential shape, see `SecretRedactor`)
    /// is replaced by "[REDACTED]" in the transcripts, in the lines passed to `onLine`, in the
    /// tails and in captured output. Values shorter than 6 characters are not secrets.
    public var redactions: [String]

    /// Creates a spec; see the properties for what each parameter means.
    public init(
        executable: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        standardInput: String? = nil,
        wallClockLimit: Duration? = nil,
        inactivityLimit: Duration? = nil,
        transcriptPath: String? = nil,
        redactions: [String] = []
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.standardInput = standardInput
        self.wallClockLimit = wallClockLimit
        self.inactivityLimit = inactivityLimit
        self.transcriptPath = transcriptPath
        self.redactions = redactions
    }
}

/// One of the child's output streams.
///
/// Clients that also import Foundation must write `KeelAgents.OutputStream` where the
/// type is named (Foundation has a class of the same name); `.stdout` and `.stderr` need no
/// qualification.
public enum OutputStream: String, Sendable {
    case stdout, stderr
}

/// How a process ended.
public enum Termination: Sendable, Equatable {
    /// It exited with this status.
    case exited(Int32)
    /// It was killed by this signal.
    case signaled(Int32)

    /// How it ended, in words for a person: "exited with status 3", "was killed by signal 9 (SIGKILL)".
    public var words: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal):
            "was killed by signal \(signal)" + (Self.signalNames[signal].map { " (\($0))" } ?? "")
        }
    }

    /// The names of the signals that usually end a process (the same numbers on Linux and macOS).
    static let signalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE",
        14: "SIGALRM", 15: "SIGTERM",
    ]
}

/// Which limit made Keel stop a process.
public enum TimeoutKind: String, Sendable, Equatable {
    /// ``ProcessSpec/wallClockLimit``.
    case wallClock = "wall_clock"
    /// ``ProcessSpec/inactivityLimit``.
    case inactivity
}

/// What the output so far says about the run, line by line (see ``ProcessRunner/run(_:onStart:watch:)``).
public enum LineVerdict: Sendable, Equatable {
    /// Let it go on.
    case proceed
    /// Its end is already known (an agent retrying a refused key would only wait longer):
    /// stop the process group now, for this reason.
    case stop(String)
}

/// How a run ended.
public struct ProcessOutcome: Sendable {
    /// The process id, which is also its process-group id.
    public var pid: Int32
    /// How the process itself ended (for a timeout, usually by Keel's signal).
    public var termination: Termination
    /// Set when Keel stopped the process for a timeout.
    public var timedOut: TimeoutKind?
    /// Set when the calling task was cancelled and Keel stopped the process.
    public var cancelled: Bool
    /// Set when a line's ``LineVerdict/stop(_:)`` stopped the process: the reason it gave.
    public var stopped: String?
    /// From spawn to the end of the process group's output.
    public var duration: Duration
    /// The last 64 KiB of (redacted) stdout.
    public var stdoutTail: String
    /// The last 64 KiB of (redacted) stderr.
    public var stderrTail: String

    /// Exited 0 on its own: no timeout, no cancellation, not stopped.
    public var succeeded: Bool { termination == .exited(0) && timedOut == nil && !cancelled && stopped == nil }

    /// Creates an outcome (for fakes in tests; ``ProcessRunner`` makes the real ones).
    public init(
        pid: Int32,
        termination: Termination,
        timedOut: TimeoutKind? = nil,
        cancelled: Bool = false,
        stopped: String? = nil,
        duration: Duration = .zero,
        stdoutTail: String = "",
        stderrTail: String = ""
    ) {
        self.pid = pid
        self.termination = termination
        self.timedOut = timedOut
        self.cancelled = cancelled
        self.stopped = stopped
        self.duration = duration
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
    }
}

/// The result of ``ProcessRunner/capture(_:)``: the outcome and the whole (redacted) output.
public struct CapturedOutput: Sendable {
    /// How the run ended.
    public var outcome: ProcessOutcome
    /// Everything written to stdout, up to ``ProcessRunner/captureLimit`` bytes.
    public var stdout: String
    /// Everything written to stderr, up to ``ProcessRunner/captureLimit`` bytes.
    public var stderr: String
    /// Set when stdout was longer than the limit and was cut (its start is kept).
    public var stdoutTruncated: Bool
    /// Set when stderr was longer than the limit and was cut (its start is kept).
    public var stderrTruncated: Bool

    /// Creates a captured output (for fakes in tests).
    public init(outcome: ProcessOutcome, stdout: String, stderr: String, stdoutTruncated: Bool = false, stderrTruncated: Bool = false) {
        self.outcome = outcome
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
    }
}

/// Runs processes under supervision: each in its own process group, with wall-clock and
/// inactivity limits, redacted transcripts, and cancellation that takes the whole group down.
///
/// A timeout or cancellation sends SIGTERM to the group, waits 2 s, then sends SIGKILL to the
/// group; `run` then returns normally with the exit status, so a stopped process is an
/// outcome, not an error.
///
/// A run ends when the process has exited *and* its stdout and stderr are closed. A
/// background grandchild that keeps them open (`sleep 300 &`) keeps the run going, output
/// and all, until the inactivity or wall-clock limit stops the whole group; without limits
/// it waits for the grandchild.
///
/// ```swift
/// let outcome = try await ProcessRunner().run(spec, onStart: { pid in
///     await store.recordPid(pid, for: runID)        // to kill an orphan after a crash
/// }, onLine: { stream, line in
///     if stream == .stdout { await progress.note(line) }
/// })
/// if outcome.timedOut == .inactivity { ... }
/// ```
///
/// Pass `onLine:` with its label: a single trailing closure binds to `onStart`.
///
/// ```swift
/// let git = try await ProcessRunner().capture(ProcessSpec(executable: "git", arguments: ["status", "--porcelain"]))
/// ```
public struct ProcessRunner: Sendable {
    /// The most ``capture(_:)`` keeps of each stream: 16 MiB.
    public static let captureLimit = 16 << 20

    /// Creates a runner; it holds no state.
    public init() {}

    /// Runs `spec` to completion.
    ///
    /// - Parameters:
    ///   - onStart: receives the pid (== process-group id) as soon as the process is spawned,
    ///     before any line; Keel records it so that an orphan can be killed after a crash.
    ///   - onLine: receives each complete line (without "\n"), redacted, of stdout and stderr
    ///     as it arrives, in order within each stream; a last line without "\n" is delivered at
    ///     end of stream.
    /// - Returns: how the process ended, including when Keel stopped it.
    /// - Throws: ``ProcessError`` when the process could not be started or its transcript
    ///   could not be created; `CancellationError` when the task was already cancelled.
    public func run(
        _ spec: ProcessSpec,
        onStart: @Sendable (Int32) async -> Void = { _ in },
        onLine: @Sendable (OutputStream, String) async -> Void = { _, _ in }
    ) async throws -> ProcessOutcome {
        try await execute(
            spec, collectLimit: nil, onStart: onStart,
            onLine: { stream, line in
                await onLine(stream, line)
                return .proceed
            }
        ).outcome
    }

    /// Runs `spec` to completion like ``run(_:onStart:onLine:)``, letting each line decide
    /// whether the run goes on: the first ``LineVerdict/stop(_:)`` stops the process group
    /// (SIGTERM, then SIGKILL after the grace period) and is reported in ``ProcessOutcome/stopped``.
    /// Lines that arrive while it stops are still delivered.
    public func run(
        _ spec: ProcessSpec,
        onStart: @Sendable (Int32) async -> Void = { _ in },
        watch: @Sendable (OutputStream, String) async -> LineVerdict
    ) async throws -> ProcessOutcome {
        try await execute(spec, collectLimit: nil, onStart: onStart, onLine: watch).outcome
    }

    /// Runs a short command (git, a CI step) and collects stdout and stderr in full, up to
    /// ``captureLimit`` bytes each.
    public func capture(_ spec: ProcessSpec) async throws -> CapturedOutput {
        let result = try await execute(spec, collectLimit: Self.captureLimit, onStart: { _ in }, onLine: { _, _ in .proceed })
        return CapturedOutput(
            outcome: result.outcome,
            stdout: String(decoding: result.stdout, as: UTF8.self),
            stderr: String(decoding: result.stderr, as: UTF8.self),
            stdoutTruncated: result.stdoutTruncated,
            stderrTruncated: result.stderrTruncated
        )
    }
}

// MARK: - Running

/// What the run body hands back once the group's output has ended and the leader exited.
private struct BodyResult: Sendable {
    var pid: Int32
    var stopReason: StopReason?
    var stdoutTail: String
    var stderrTail: String
    var stdout: [UInt8]
    var stderr: [UInt8]
    var stdoutTruncated: Bool
    var stderrTruncated: Bool
}

private struct RunResult {
    var outcome: ProcessOutcome
    var stdout: [UInt8]
    var stderr: [UInt8]
    var stdoutTruncated: Bool
    var stderrTruncated: Bool
}

extension ProcessRunner {
    private func execute(
        _ spec: ProcessSpec,
        collectLimit: Int?,
        onStart: @Sendable (Int32) async -> Void,
        onLine: @Sendable (OutputStream, String) async -> LineVerdict
    ) async throws -> RunResult {
        try Task.checkCancellation()
        let configuration = try Self.configuration(for: spec)
        let redactor = SecretRedactor(secrets: spec.redactions)

        let stdoutTranscript = try spec.transcriptPath.map { try TranscriptFile(path: $0) }
        let stderrTranscript = try spec.transcriptPath.map { try TranscriptFile(path: $0 + ".stderr") }
        defer {
            stdoutTranscript?.closeFile()
            stderrTranscript?.closeFile()
        }

        let descriptors = DescriptorSet()
        defer { descriptors.closeAll() }
        let stdoutPipe = try descriptors.makePipe()
        let stderrPipe = try descriptors.makePipe()
        let stdinPipe = try spec.standardInput.map { _ in try descriptors.makePipe() }
        let childStdin = try stdinPipe?.read ?? descriptors.openNullDevice()

        let started = ContinuousClock.now
        let activity = ActivityClock(started)
        let queue = StreamEventQueue()

        let execution: ExecutionResult<BodyResult, FileDescriptorOutput, FileDescriptorOutput>
        do {
            // The child-side descriptors stay ours (closeAfterSpawningProcess: false) so that
            // each is closed exactly once, by `descriptors`, whether or not the spawn works.
            execution = try await Subprocess.run(
                configuration,
                input: .fileDescriptor(FileDescriptor(rawValue: childStdin), closeAfterSpawningProcess: false),
                output: .fileDescriptor(FileDescriptor(rawValue: stdoutPipe.write), closeAfterSpawningProcess: false),
                error: .fileDescriptor(FileDescriptor(rawValue: stderrPipe.write), closeAfterSpawningProcess: false)
            ) { execution -> BodyResult in
                let pid = execution.processIdentifier.value
                // The child has its copies now; ours would hold the pipes open forever.
                descriptors.close(childStdin)
                descriptors.close(stdoutPipe.write)
                descriptors.close(stderrPipe.write)

                var readers: [PipeReader] = []
                for (stream, fd) in [(OutputStream.stdout, stdoutPipe.read), (.stderr, stderrPipe.read)] where descriptors.take(fd) {
                    let reader = PipeReader(stream: stream, descriptor: fd, queue: queue, activity: activity)
                    reader.start()
                    readers.append(reader)
                }
                var feeder: InputFeeder?
                if let stdinPipe, let text = spec.standardInput, descriptors.take(stdinPipe.write) {
                    feeder = InputFeeder(descriptor: stdinPipe.write, text: text)
                    feeder?.start()
                }
                defer { feeder?.stop() }

                let supervisor = Supervisor(
                    pid: pid,
                    started: started,
                    wallClockLimit: spec.wallClockLimit,
                    inactivityLimit: spec.inactivityLimit,
                    activity: activity,
                    readers: readers
                )
                return await withTaskGroup(of: Void.self) { group -> BodyResult in
                    group.addTask { await supervisor.watch() }
                    await onStart(pid)

                    var stdout = StreamRecorder(stream: .stdout, redactor: redactor, transcript: stdoutTranscript, collectLimit: collectLimit)
                    var stderr = StreamRecorder(stream: .stderr, redactor: redactor, transcript: stderrTranscript, collectLimit: collectLimit)
                    var openStreams = Set(readers.map(\.stream))
                    while !openStreams.isEmpty {
                        for event in await queue.next() {
                            switch event {
                            case .bytes(let stream, let chunk):
                                let lines = stream == .stdout ? stdout.record(chunk) : stderr.record(chunk)
                                for line in lines {
                                    let verdict = await onLine(stream, String(decoding: line, as: UTF8.self))
                                    if case .stop(let reason) = verdict {
                                        group.addTask { await supervisor.stop(because: .requested(reason)) }
                                    }
                                }
                            case .end(let stream):
                                openStreams.remove(stream)
                                if let last = stream == .stdout ? stdout.finish() : stderr.finish() {
                                    _ = await onLine(stream, String(decoding: last, as: UTF8.self))
                                }
                            }
                        }
                    }
                    // Output can end before the leader exits (it closed its descriptors); the
                    // limits keep applying until it does.
                    await supervisor.waitForLeaderExit()
                    supervisor.finish()
                    group.cancelAll()
                    await group.waitForAll()

                    return BodyResult(
                        pid: pid,
                        stopReason: supervisor.stopReason,
                        stdoutTail: stdout.tail.text,
                        stderrTail: stderr.tail.text,
                        stdout: stdout.collected,
                        stderr: stderr.collected,
                        stdoutTruncated: stdout.truncated,
                        stderrTruncated: stderr.truncated
                    )
                }
            }
        } catch let error as SubprocessError {
            throw Self.launchError(error, spec: spec)
        }

        let duration = ContinuousClock.now - started
        let body = execution.closureResult
        let termination: Termination
        switch execution.terminationStatus {
        case .exited(let code): termination = .exited(code)
        case .signaled(let signal): termination = .signaled(signal)
        }
        var timedOut: TimeoutKind?
        var cancelled = false
        var stopped: String?
        switch body.stopReason {
        case .timeout(let kind): timedOut = kind
        case .cancelled: cancelled = true
        case .requested(let reason): stopped = reason
        case nil: break
        }
        return RunResult(
            outcome: ProcessOutcome(
                pid: body.pid,
                termination: termination,
                timedOut: timedOut,
                cancelled: cancelled,
                stopped: stopped,
                duration: duration,
                stdoutTail: body.stdoutTail,
                stderrTail: body.stderrTail
            ),
            stdout: body.stdout,
            stderr: body.stderr,
            stdoutTruncated: body.stdoutTruncated,
            stderrTruncated: body.stderrTruncated
        )
    }

    private static func configuration(for spec: ProcessSpec) throws(ProcessError) -> Configuration {
        guard !spec.executable.isEmpty else {
            throw ProcessError(code: .invalidSpec, message: "The process spec names no executable; set ProcessSpec.executable.")
        }
        var overrides: [Environment.Key: String?] = [:]
        for name in spec.unsetEnvironment {
            overrides[try environmentKey(name)] = .some(nil)
        }
        for (name, value) in spec.environment {
            guard !value.utf8.contains(0) else {
                throw ProcessError(
                    code: .invalidSpec,
                    message: "The environment variable \(name) for \(spec.executable) contains a NUL byte; remove it."
                )
            }
            overrides[try environmentKey(name)] = value
        }

        var options = PlatformOptions()
        // The child leads its own process group, so that a timeout reaches its descendants.
        options.createSession = true
        // swift-subprocess tears the child down when the calling task is cancelled; Keel does
        // that itself (SIGTERM to the group, grace, SIGKILL to the group), so its teardown is
        // only a backstop: a null signal, then its final SIGKILL to the group after 10 s, by
        // which time Keel's own sequence has long finished.
        options.teardownSequence = [
            .send(signal: Signal(rawValue: 0), toProcessGroup: true, allowedDurationToNextStep: .seconds(10))
        ]

        return Configuration(
            executable: spec.executable.contains("/") ? .path(FilePath(spec.executable)) : .name(spec.executable),
            arguments: Arguments(spec.arguments),
            environment: environment(spec, overrides),
            workingDirectory: spec.workingDirectory.map { FilePath($0) },
            platformOptions: options
        )
    }

    private static func environment(_ spec: ProcessSpec, _ overrides: [Environment.Key: String?]) -> Environment {
        guard spec.inheritsEnvironment else { return .custom(overrides.compactMapValues { $0 }) }
        return overrides.isEmpty ? .inherit : .inherit.updating(overrides)
    }

    private static func environmentKey(_ name: String) throws(ProcessError) -> Environment.Key {
        guard !name.isEmpty, !name.contains("="), !name.utf8.contains(0), let key = Environment.Key(rawValue: name) else {
            throw ProcessError(
                code: .invalidSpec,
                message: "\"\(name)\" is not a valid environment variable name (it must be non-empty, without \"=\"); fix the process spec."
            )
        }
        return key
    }

    private static func launchError(_ error: SubprocessError, spec: ProcessSpec) -> ProcessError {
        let command = ([spec.executable] + spec.arguments).joined(separator: " ")
        switch error.code {
        case .executableNotFound:
            let path = spec.environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? ""
            return ProcessError(
                code: .launchFailed,
                message: "Could not launch `\(command)`: no executable named \(spec.executable) on PATH (\(path)). "
                    + "Install it, add its directory to PATH, or give its absolute path.",
                cause: error
            )
        case .failedToChangeWorkingDirectory:
            return ProcessError(
                code: .launchFailed,
                message: "Could not launch `\(command)`: the working directory \(spec.workingDirectory ?? "") "
                    + "does not exist or is not accessible. Check the path and its permissions.",
                cause: error
            )
        case .spawnFailed:
            return ProcessError(
                code: .launchFailed,
                message: "Could not launch `\(command)`. Check that \(spec.executable) exists and is executable "
                    + "by the Keel user, and that the working directory \(spec.workingDirectory ?? "(inherited)") exists.",
                cause: error
            )
        default:
            return ProcessError(
                code: .supervisionFailed,
                message: "Lost track of `\(command)` while it ran: \(error). "
                    + "Check the system's process limits; the process may need to be killed by hand.",
                cause: error
            )
        }
    }
}
