/// Capped, jittered exponential backoff.
///
/// ```swift
/// let backoff = Backoff(initialSeconds: 30, maxSeconds: 90, jitter: 0.5)
/// backoff.delay(forFailure: 1, random: 0.5)  // 30 s less up to 50 % jitter
/// ```
public struct Backoff: Sendable, Equatable {
    public var initialSeconds: Double
    public var maxSeconds: Double
    /// Fraction of the delay that is randomised away (0 = none, 1 = anything from 0 to the delay).
    public var jitter: Double

    public init(initialSeconds: Double, maxSeconds: Double, jitter: Double) {
        self.initialSeconds = max(0, initialSeconds)
        self.maxSeconds = max(self.initialSeconds, maxSeconds)
        self.jitter = min(1, max(0, jitter))
    }

    /// The delay before retry number `failure` (1 for the first failure), with `random` in 0..<1
    /// supplied by the caller so tests are deterministic.
    public func delay(forFailure failure: Int, random: Double) -> Double {
        let exponent = Double(max(0, failure - 1))
        let raw = min(maxSeconds, initialSeconds * pow2(exponent))
        let r = min(1, max(0, random))
        return raw * (1 - jitter * r)
    }

    private func pow2(_ x: Double) -> Double {
        var result = 1.0
        var i = 0.0
        while i < x && result < 1e12 {
            result *= 2
            i += 1
        }
        return result
    }
}
