/// How Keel may push `head` to an item's branch on the origin (issue 9, section 4): a branch
/// whose tip is not a head Keel recorded for the item is never overwritten.
///
/// The push that follows is always checked against the tip seen here
/// (`--force-with-lease=<branch>:<tip>`), so a commit landing in between is not overwritten either.
///
/// ```swift
/// BranchPush.decide(tip: "c0ffee", head: "beef", recorded: ["c0ffee"], tipIsAncestorOfHead: false)
/// // .push(expecting: "c0ffee")
/// ```
public enum BranchPush: Sendable, Equatable {
    /// Push, replacing the branch only while it is at `expecting` (empty: only while it does not exist).
    case push(expecting: String)
    /// The branch already holds `head`.
    case upToDate
    /// The branch holds `tip`, a commit Keel did not record for the item: nothing is pushed.
    case foreign(tip: String)

    /// The push for `head` when the branch's tip is `tip` (nil: no such branch). A tip Keel
    /// recorded, or one `head` descends from (a fast-forward loses nothing), may be replaced.
    public static func decide(tip: String?, head: String, recorded: Set<String>, tipIsAncestorOfHead: Bool) -> BranchPush {
        guard let tip else { return .push(expecting: "") }
        if tip == head { return .upToDate }
        if recorded.contains(tip) || tipIsAncestorOfHead { return .push(expecting: tip) }
        return .foreign(tip: tip)
    }
}
