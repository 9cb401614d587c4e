import Synchronization

/// What the reader threads hand to the run: a chunk of bytes, or the end of a stream.
enum StreamEvent: Sendable {
    case bytes(OutputStream, [UInt8])
    case end(OutputStream)
}

/// A single-consumer queue from the reader threads to the task that runs the callbacks.
///
/// Unlike `AsyncStream`, waiting here ignores task cancellation: when the caller is
/// cancelled Keel still drains what the dying process prints, so the transcript and the
/// tails are complete.
final class StreamEventQueue: Sendable {
    /// Bytes queued beyond which the readers pause, so that a process printing faster than
    /// the callbacks consume waits on its pipe instead of filling Keel's memory.
    static let capacity = 4 << 20

    private struct State {
        var pending: [StreamEvent] = []
        var pendingBytes = 0
        var waiter: CheckedContinuation<[StreamEvent], Never>?
    }

    private let state = Mutex(State())

    func push(_ event: StreamEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<[StreamEvent], Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending.append(event)
            if case .bytes(_, let chunk) = event {
                state.pendingBytes += chunk.count
            }
            return nil
        }
        waiter?.resume(returning: [event])
    }

    /// Whether the consumer is behind by more than ``capacity`` bytes.
    var isFull: Bool {
        state.withLock { $0.pendingBytes > Self.capacity }
    }

    /// Everything queued so far, waiting for at least one event.
    func next() async -> [StreamEvent] {
        await withCheckedContinuation { (continuation: CheckedContinuation<[StreamEvent], Never>) in
            let ready = state.withLock { state -> [StreamEvent]? in
                if state.pending.isEmpty {
                    state.waiter = continuation
                    return nil
                }
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                state.pendingBytes = 0
                return batch
            }
            if let ready {
                continuation.resume(returning: ready)
            }
        }
    }
}
