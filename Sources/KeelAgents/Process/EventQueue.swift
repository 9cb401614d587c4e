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
    private struct State {
        var pending: [StreamEvent] = []
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
            return nil
        }
        waiter?.resume(returning: [event])
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
                return batch
            }
            if let ready {
                continuation.resume(returning: ready)
            }
        }
    }
}
