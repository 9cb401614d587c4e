import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The child's pipes are read and written on dedicated threads rather than through
// swift-subprocess's streams: those end as soon as the direct child exits, whereas Keel must
// keep reading while a grandchild still holds the pipe (and let the inactivity limit decide),
// and must never block a cooperative-pool thread in read(2) or write(2).

/// When the child last wrote a byte on either stream.
final class ActivityClock: Sendable {
    private let last: Mutex<ContinuousClock.Instant>

    init(_ start: ContinuousClock.Instant) {
        last = Mutex(start)
    }

    func touch() {
        let now = ContinuousClock.now
        last.withLock { $0 = now }
    }

    var lastActivity: ContinuousClock.Instant {
        last.withLock { $0 }
    }
}

/// How long a pipe thread blocks in poll(2) before it looks at its stop flag again.
private let pollIntervalMilliseconds: Int32 = 100

/// Reads one of the child's output pipes to end-of-file on its own thread, in raw chunks.
final class PipeReader: Sendable {
    let stream: OutputStream
    private let descriptor: Int32
    private let queue: StreamEventQueue
    private let activity: ActivityClock
    private let stopRequested = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    /// Takes ownership of `descriptor`: the thread closes it when it ends.
    init(stream: OutputStream, descriptor: Int32, queue: StreamEventQueue, activity: ActivityClock) {
        self.stream = stream
        self.descriptor = descriptor
        self.queue = queue
        self.activity = activity
    }

    func start() {
        let thread = Thread { [self] in
            self.readToEnd()
        }
        thread.name = "keel-\(stream.rawValue)-reader"
        thread.start()
    }

    /// Asks the thread to stop without waiting for end-of-file (a process that escaped the
    /// process group still holds the pipe). It stops within one poll interval.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
    }

    /// True once the pipe reached end-of-file (or the reader was stopped) and is closed.
    var isFinished: Bool {
        finished.load(ordering: .acquiring)
    }

    private func readToEnd() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var pollEntry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while !stopRequested.load(ordering: .acquiring) {
            pollEntry.revents = 0
            let ready = poll(&pollEntry, 1, pollIntervalMilliseconds)
            if ready == 0 { continue }
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            let count = buffer.withUnsafeMutableBytes { raw in
                read(descriptor, raw.baseAddress, raw.count)
            }
            if count > 0 {
                activity.touch()
                queue.push(.bytes(stream, Array(buffer[0..<count])))
                // Back-pressure: the child is busy (blocked writing), not idle, so the wait
                // counts as activity.
                while queue.isFull && !stopRequested.load(ordering: .acquiring) {
                    usleep(2_000)
                    activity.touch()
                }
            } else if count == 0 {
                break
            } else if errno != EINTR && errno != EAGAIN {
                break
            }
        }
        _ = closeDescriptor(descriptor)
        finished.store(true, ordering: .releasing)
        queue.push(.end(stream))
    }
}

/// Writes the standard input text to the child on its own thread, then closes the pipe.
///
/// A child that exits (or closes its input) without reading everything must not take Keel
/// down with SIGPIPE: the signal is blocked on this thread only (Linux) or disabled on the
/// descriptor (Darwin), so the write fails with EPIPE instead and the thread gives up.
final class InputFeeder: Sendable {
    private let descriptor: Int32
    private let bytes: [UInt8]
    private let stopRequested = Atomic<Bool>(false)

    /// Takes ownership of `descriptor` (the pipe's write end).
    init(descriptor: Int32, text: String) {
        self.descriptor = descriptor
        self.bytes = Array(text.utf8)
    }

    func start() {
        let thread = Thread { [self] in
            self.writeAll()
        }
        thread.name = "keel-stdin-writer"
        thread.start()
    }

    /// Gives up on input the child never read; the thread stops within one poll interval.
    func stop() {
        stopRequested.store(true, ordering: .releasing)
    }

    private func writeAll() {
        #if canImport(Darwin)
        _ = fcntl(descriptor, F_SETNOSIGPIPE, 1)
        #else
        var sigpipe = sigset_t()
        sigemptyset(&sigpipe)
        sigaddset(&sigpipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &sigpipe, nil)
        #endif
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)

        var brokenPipe = false
        var offset = 0
        var pollEntry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        while offset < bytes.count && !stopRequested.load(ordering: .acquiring) {
            pollEntry.revents = 0
            let ready = poll(&pollEntry, 1, pollIntervalMilliseconds)
            if ready == 0 { continue }
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            let written = bytes.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress! + offset, min(raw.count - offset, 64 * 1024))
            }
            if written > 0 {
                offset += written
            } else if written < 0 && (errno == EAGAIN || errno == EINTR) {
                continue
            } else {
                brokenPipe = errno == EPIPE
                break
            }
        }
        _ = closeDescriptor(descriptor)

        #if !canImport(Darwin)
        if brokenPipe {
            // Consume the SIGPIPE left pending on this thread by the failed write.
            var noWait = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&sigpipe, nil, &noWait)
        }
        #else
        _ = brokenPipe
        #endif
    }
}
