/// Stops an item that keeps failing the same way.
///
/// A failure has a signature (`agent_timeout:inactivity`, `checks_failed:tests`, ...). When the
/// same signature has been seen `threshold` times on an item since the last time a person
/// retried it, the breaker opens and the item goes to `needs_human` instead of the queue.
public struct CircuitBreaker: Sendable, Equatable {
    public var threshold: Int

    public init(threshold: Int) {
        self.threshold = max(1, threshold)
    }

    /// Whether the breaker opens on `signature`, given the signatures of earlier failures
    /// (since the last human retry, oldest first), not counting this one.
    public func opens(on signature: String, after earlier: [String]) -> Bool {
        let count = earlier.reduce(into: 1) { n, s in if s == signature { n += 1 } }
        return count >= threshold
    }

    /// How many failures of `signature` there would be with this one.
    public func count(of signature: String, after earlier: [String]) -> Int {
        earlier.filter { $0 == signature }.count + 1
    }
}
