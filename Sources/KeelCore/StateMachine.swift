/// The item state machine as data: one list of transitions, `(from, outcome, to)`, from which
/// both the next state for an outcome and the set of allowed edges are derived, so the two
/// cannot disagree.
///
/// ```swift
/// let next = try StateMachine.next(from: .awaitingCI, on: .checksFailed)  // .queued
/// StateMachine.isAllowed(from: .awaitingCI, to: .queued)                   // true
/// ```
/// An outcome that does not apply to a state is an error; the store never writes it.
public enum StateMachine {
    /// One edge of the machine: in `from`, `outcome` leads to `to`.
    public struct Transition: Sendable, Hashable, CustomStringConvertible {
        public let from: ItemState
        public let outcome: Outcome
        public let to: ItemState

        public init(_ from: ItemState, _ outcome: Outcome, _ to: ItemState) {
            self.from = from
            self.outcome = outcome
            self.to = to
        }

        public var description: String { "\(from) --\(outcome.rawValue)--> \(to)" }
    }

    /// Every transition, once. The list is the single authority: the store re-checks it inside
    /// the transaction that writes a transition.
    public static let transitions: [Transition] = {
        var list: [Transition] = [
            // The path of an item.
            .init(.queued, .claimed, .developing),
            .init(.developing, .developed, .pushing),
            .init(.pushing, .pushed, .awaitingCI),
            .init(.awaitingCI, .checksPassed, .inspecting),
            .init(.inspecting, .inspectionPassed, .merging),
            .init(.merging, .mergeCompleted, .merged),
            // Back to develop with what failed.
            .init(.awaitingCI, .checksFailed, .queued),
            .init(.inspecting, .inspectionFailed, .queued),
            .init(.merging, .mergeConflict, .queued),
            // Epics and dependencies.
            .init(.queued, .planningStarted, .planning),
            .init(.planning, .planned, .blocked),
            .init(.queued, .dependenciesPending, .blocked),
            .init(.blocked, .dependenciesMerged, .queued),
            .init(.blocked, .childrenMerged, .merged),
            // People.
            .init(.needsHuman, .humanRetry, .queued),
            .init(.failed, .humanRetry, .queued),
        ]
        for state in ItemState.allCases where state.isActive {
            list.append(.init(state, .retryableFailure, .queued))
            list.append(.init(state, .interrupted, .queued))
            list.append(.init(state, .permanentFailure, .failed))
        }
        // A person merged the branch while Keel was still on it.
        for state in [ItemState.pushing, .awaitingCI, .inspecting, .merging] {
            list.append(.init(state, .mergedOutside, .merged))
        }
        // What a worker or the scheduler holds can go to a person; what already waits for one cannot.
        for state in ItemState.allCases where !state.isTerminal && !state.waitsForPerson {
            list.append(.init(state, .escalated, .needsHuman))
        }
        for state in ItemState.allCases where !state.isTerminal {
            list.append(.init(state, .cancelRequested, .cancelled))
        }
        return list
    }()

    /// The next state by source state and outcome.
    private static let table: [ItemState: [Outcome: ItemState]] = transitions.reduce(into: [:]) { table, edge in
        precondition(table[edge.from]?[edge.outcome] == nil, "two transitions from \(edge.from) on \(edge.outcome.rawValue)")
        table[edge.from, default: [:]][edge.outcome] = edge.to
    }

    /// Every allowed edge, keyed by source state, derived from ``transitions``.
    public static let allowed: [ItemState: Set<ItemState>] = Dictionary(
        uniqueKeysWithValues: ItemState.allCases.map { state in (state, Set(table[state, default: [:]].values)) })

    /// Whether `from → to` is an edge of the machine.
    public static func isAllowed(from: ItemState, to: ItemState) -> Bool {
        allowed[from]?.contains(to) ?? false
    }

    /// The next state for an outcome, or ``CoreError`` `.illegalTransition` when the outcome
    /// does not apply to `state`.
    public static func next(from state: ItemState, on outcome: Outcome) throws(CoreError) -> ItemState {
        guard let target = table[state]?[outcome] else {
            throw CoreError(.illegalTransition, "no transition from \(state) on \(outcome.rawValue)")
        }
        return target
    }
}
