import Foundation

/// Runs blocking work (a `Process` waited for synchronously, a pipe read to its end) on a thread
/// of its own and suspends until it is done, so the cooperative pool's few threads stay free for
/// the code under test: a test that blocked one of them could hold back another test's timers
/// (a grace period before SIGKILL, a lease renewal) for as long as it blocks.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
