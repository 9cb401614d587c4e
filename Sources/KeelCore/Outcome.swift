/// What happened to an item: the input of the state machine.
///
/// Each case names an event a stage, the scheduler or a person reports; ``StateMachine/next(from:on:)``
/// turns it into the next ``ItemState``.
public enum Outcome: String, Sendable, Codable, CaseIterable, Hashable {
    /// A worker claimed a queued item and starts developing it.
    case claimed
    /// A worker claimed a queued epic and starts planning it.
    case planningStarted = "planning_started"
    /// The planner produced sub-issues; the epic waits for them.
    case planned
    /// Every sub-issue of an epic merged (or was cancelled, at least one merged): the epic closes.
    case childrenMerged = "children_merged"
    /// The item depends on items that have not merged yet.
    case dependenciesPending = "dependencies_pending"
    /// Every dependency merged.
    case dependenciesMerged = "dependencies_merged"
    /// The agent finished and its work is committed in the worker's clone.
    case developed
    /// The branch is in the forge and the pull request is open.
    case pushed
    /// Every required check passed.
    case checksPassed = "checks_passed"
    /// A required check failed: back to develop with its output.
    case checksFailed = "checks_failed"
    /// The inspector approved.
    case inspectionPassed = "inspection_passed"
    /// The inspector asked for changes: back to develop with the items.
    case inspectionFailed = "inspection_failed"
    /// The branch is in the base.
    case mergeCompleted = "merge_completed"
    /// The branch conflicts with the base: develop again from the new base.
    case mergeConflict = "merge_conflict"
    /// The base already contains the item's pushed head, merged outside Keel (by a person, by hand
    /// or in the forge) while the item waited for CI, review or its merge.
    case mergedOutside = "merged_outside"
    /// A retryable failure (transient, wait): back to the queue after a backoff.
    case retryableFailure = "retryable_failure"
    /// The stage was interrupted (shutdown): back to the queue, no attempt lost.
    case interrupted
    /// The item needs a person (breaker open, budget, permanent error, unparseable verdict).
    case escalated
    /// A failure that no retry will fix and no person was asked about.
    case permanentFailure = "permanent_failure"
    /// A person asked for another attempt.
    case humanRetry = "human_retry"
    /// A person cancelled the item.
    case cancelRequested = "cancel_requested"
}
