public import Foundation
public import KeelCore
import Synchronization

/// A clock that moves only when a test says so.
///
/// ```swift
/// let clock = ManualWallClock()
/// clock.advance(by: 72 * 3600)
/// ```
public final class ManualWallClock: WallClock {
    // Mutex-guarded: the pipeline reads it from several tasks while the test advances it.
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
