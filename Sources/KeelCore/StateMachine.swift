/// The item state machine as data: which transitions exist, and the pure function
/// from (state, outcome) to the next state.
///
/// ```swift
/// let next = try StateMachine.next(from: .awaitingCI, on: .checksFailed)  // .queued
/// ```
/// An outcome that does not apply to a state is an error; the store never writes it.
public enum StateMachine {
    /// Every allowed edge, keyed by source state. The table is the single authority: the store
    /// re-checks it inside the transaction that writes a transition.
    public static let allowed: [ItemState: Set<ItemState>] = {
        let leaveToPerson: Set<ItemState> = [.needsHuman, .failed, .cancelled]
        return [
            .queued: [.developing, .planning, .blocked, .needsHuman, .cancelled],
            .blocked: [.queued, .cancelled, .needsHuman, .merged],
            .planning: leaveToPerson.union([.queued, .blocked, .developing, .merged]),
            .developing: leaveToPerson.union([.pushing, .queued]),
            .pushing: leaveToPerson.union([.awaitingCI, .queued, .merged]),
            .awaitingCI: leaveToPerson.union([.inspecting, .queued, .merged]),
            .inspecting: leaveToPerson.union([.merging, .queued, .merged]),
            .merging: leaveToPerson.union([.merged, .queued]),
            .needsHuman: [.queued, .cancelled],
            .failed: [.queued, .cancelled],
            .merged: [],
            .cancelled: [],
        ]
    }()

    /// Whether `from → to` is an edge of the machine.
    public static func isAllowed(from: ItemState, to: ItemState) -> Bool {
        allowed[from]?.contains(to) ?? false
    }

    /// The next state for an outcome, or ``CoreError`` `.illegalTransition` when the outcome
    /// does not apply to `state`.
    public static func next(from state: ItemState, on outcome: Outcome) throws(CoreError) -> ItemState {
        let target: ItemState? =
            switch (state, outcome) {
            case (.queued, .claimed): .developing
            case (.queued, .planningStarted): .planning
            case (.queued, .dependenciesPending): .blocked
            case (.blocked, .dependenciesMerged): .queued
            case (.planning, .planned): .blocked
            case (.blocked, .childrenMerged): .merged
            case (.developing, .developed): .pushing
            case (.pushing, .pushed): .awaitingCI
            case (.awaitingCI, .checksPassed): .inspecting
            case (.awaitingCI, .checksFailed): .queued
            case (.inspecting, .inspectionPassed): .merging
            case (.inspecting, .inspectionFailed): .queued
            case (.merging, .mergeCompleted): .merged
            case (.merging, .mergeConflict): .queued
            case (.pushing, .mergedOutside), (.awaitingCI, .mergedOutside), (.inspecting, .mergedOutside), (.merging, .mergedOutside): .merged
            case (let s, .retryableFailure) where s.isActive: .queued
            case (let s, .interrupted) where s.isActive: .queued
            case (let s, .permanentFailure) where s.isActive: .failed
            case (let s, .escalated) where !s.isTerminal && s != .needsHuman: .needsHuman
            case (.needsHuman, .humanRetry), (.failed, .humanRetry): .queued
            case (let s, .cancelRequested) where !s.isTerminal: .cancelled
            default: nil
            }
        guard let target, isAllowed(from: state, to: target) else {
            throw CoreError(.illegalTransition, "no transition from \(state) on \(outcome.rawValue)")
        }
        return target
    }
}
