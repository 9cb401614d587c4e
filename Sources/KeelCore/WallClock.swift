public import Foundation

/// The source of domain time: backoff deadlines, leases, CI deadlines, break timeouts.
///
/// Tests replace it with a manual clock so that a 72-hour wait runs in milliseconds.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
