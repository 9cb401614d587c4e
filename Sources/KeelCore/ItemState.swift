/// Where a work item stands in the path from issue to merge.
///
/// The raw values are the strings stored in `work_items.state` and
/// `state_transitions.{from_state,to_state}`: SQL users filter on them.
public enum ItemState: String, Sendable, Codable, CaseIterable, Hashable, CustomStringConvertible {
    case queued
    case planning
    case developing
    case pushing
    case awaitingCI = "awaiting_ci"
    case inspecting
    case merging
    case merged
    case needsHuman = "needs_human"
    case failed
    case cancelled
    case blocked

    public var description: String { rawValue }

    /// States in which a worker holds the item and a stage is running.
    public var isActive: Bool {
        switch self {
        case .planning, .developing, .pushing, .awaitingCI, .inspecting, .merging: true
        default: false
        }
    }

    /// States no worker will ever leave on its own.
    public var isTerminal: Bool { self == .merged || self == .cancelled }

    /// States that wait for a person (or for dependencies that wait for one).
    public var waitsForPerson: Bool { self == .needsHuman || self == .failed }

    /// States a worker may claim: queued items start work, active ones are resumed after a lost lease.
    public static let claimable: [ItemState] = [.queued, .planning, .developing, .pushing, .awaitingCI, .inspecting, .merging]
}
