import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why Keel stopped a process.
enum StopReason: Sendable, Equatable {
    case timeout(TimeoutKind)
    case cancelled
    /// A line of the output said the run's end is already known.
    case requested(String)
}

/// Watches one running process group: enforces the wall-clock and inactivity limits, reacts
/// to cancellation, and knows how to take the whole group down.
///
/// The group is only ever signalled before swift-subprocess reaps the leader (the run body
/// does not return until the supervisor is done), so its id cannot have been reused.
final class Supervisor: Sendable {
    /// Time between SIGTERM and SIGKILL.
    static let gracePeriod: Duration = .seconds(2)
    /// After SIGKILL, how long to wait for end-of-file before abandoning the pipes to a
    /// process that escaped the group (with setsid) and still holds them.
    static let drainPeriod: Duration = .seconds(2)

    private struct State {
        var reason: StopReason?
        var finished = false
    }

    let pid: pid_t
    private let started: ContinuousClock.Instant
    private let wallClockLimit: Duration?
    private let inactivityLimit: Duration?
    private let activity: ActivityClock
    private let readers: [PipeReader]
    private let state = Mutex(State())

    init(
        pid: pid_t,
        started: ContinuousClock.Instant,
        wallClockLimit: Duration?,
        inactivityLimit: Duration?,
        activity: ActivityClock,
        readers: [PipeReader]
    ) {
        self.pid = pid
        self.started = started
        self.wallClockLimit = wallClockLimit
        self.inactivityLimit = inactivityLimit
        self.activity = activity
        self.readers = readers
    }

    /// Why the process was stopped, if Keel stopped it.
    var stopReason: StopReason? {
        state.withLock { $0.reason }
    }

    /// Runs until a limit is hit (then stops the group), the calling task is cancelled (then
    /// stops the group), or ``finish()`` is called and the task cancelled.
    func watch() async {
        while true {
            let now = ContinuousClock.now
            var deadline: ContinuousClock.Instant?
            if let wallClockLimit {
                let end = started + wallClockLimit
                if now >= end {
                    await stop(because: .timeout(.wallClock))
                    return
                }
                deadline = end
            }
            if let inactivityLimit {
                let end = activity.lastActivity + inactivityLimit
                if now >= end {
                    await stop(because: .timeout(.inactivity))
                    return
                }
                deadline = deadline.map { min($0, end) } ?? end
            }
            do {
                try await Task.sleep(until: deadline ?? now + .seconds(3600), clock: .continuous)
            } catch {
                if state.withLock({ $0.finished }) { return }
                await stop(because: .cancelled)
                return
            }
        }
    }

    /// Marks the run as complete, so that the watcher's cancellation is not read as the
    /// caller's.
    func finish() {
        state.withLock { $0.finished = true }
    }

    /// SIGTERM to the group, up to ``gracePeriod`` for it to go, SIGKILL to the group, then
    /// up to ``drainPeriod`` for the pipes to close.
    func stop(because reason: StopReason) async {
        // A deadline that falls just as the process finished on its own changes nothing.
        if leaderHasExited() && readersFinished { return }
        let first = state.withLock { state -> Bool in
            guard state.reason == nil, !state.finished else { return false }
            state.reason = reason
            return true
        }
        guard first else { return }
        // Runs even though the calling task may be cancelled: its sleeps would throw at once.
        await withUncancelledTask { [self] in
            _ = kill(-pid, SIGTERM)
            let graceEnd = ContinuousClock.now + Self.gracePeriod
            while ContinuousClock.now < graceEnd && !(leaderHasExited() && readersFinished) {
                try? await Task.sleep(for: .milliseconds(20))
            }
            // Also for members that outlived a leader that obeyed SIGTERM; swift-subprocess's
            // own teardown only follows up on the leader.
            _ = kill(-pid, SIGKILL)
            let drainEnd = ContinuousClock.now + Self.drainPeriod
            while ContinuousClock.now < drainEnd && !readersFinished {
                try? await Task.sleep(for: .milliseconds(20))
            }
            for reader in readers where !reader.isFinished {
                reader.stop()
            }
        }
    }

    /// Waits (ignoring cancellation) until the leader has exited, without reaping it.
    func waitForLeaderExit() async {
        await withUncancelledTask { [self] in
            var delay = Duration.milliseconds(2)
            while !leaderHasExited() {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .milliseconds(100))
            }
        }
    }

    private var readersFinished: Bool {
        readers.allSatisfy(\.isFinished)
    }

    /// Whether the leader has exited; leaves the zombie for swift-subprocess to reap.
    private func leaderHasExited() -> Bool {
        while true {
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                // With WNOHANG a still-running child leaves the structure zeroed.
                return info.si_signo != 0
            }
            if errno == EINTR { continue }
            // ECHILD: someone else reaped it; either way it is gone.
            return true
        }
    }
}

/// Runs `body` in a task that does not inherit the caller's cancellation, and waits for it.
///
/// The task is awaited at once, so this stays structured in effect; it is how clean-up
/// (signals, grace periods) completes after the caller was cancelled.
func withUncancelledTask<Result: Sendable>(_ body: @Sendable @escaping () async -> Result) async -> Result {
    await Task { await body() }.value
}
