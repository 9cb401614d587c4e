/// Why a remote refused a push, read from what `git push --porcelain` printed.
///
/// Two pushes to the same branch at once are a race, not a failure of either change: the one
/// refused has lost (``moved`` or ``busy``) and is redone on the new tip. A ``stale`` lease means
/// the branch holds a commit the pusher did not expect, and ``declined`` is a hook's or a
/// policy's refusal: neither is a race.
///
/// ```swift
/// PushRefusal(gitOutput: "!\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)")  // .busy
/// ```
public enum PushRefusal: String, Sendable, Hashable, CaseIterable {
    /// The branch has commits the push lacks: `[rejected] (fetch first)`, `(non-fast-forward)`.
    case moved
    /// Another push held or changed the ref while this one was applied:
    /// `[remote rejected] (failed to update ref)`, `cannot lock ref`, `(incorrect old value provided)`.
    case busy
    /// `--force-with-lease` found the branch away from the expected head: `[rejected] (stale info)`.
    case stale
    /// A hook or a policy of the remote refused it: any other `[remote rejected] (...)`.
    case declined

    /// Reads git's porcelain status lines and standard error; nil when they report no refusal.
    public init?(gitOutput: String) {
        let text = gitOutput.lowercased()
        if text.contains("(stale info)") {
            self = .stale
        } else if text.contains("(fetch first)") || text.contains("(non-fast-forward)") {
            self = .moved
        } else if text.contains("(failed to update ref)") || text.contains("cannot lock ref")
            || text.contains("(incorrect old value provided)")
        {
            self = .busy
        } else if text.contains("[remote rejected]") || text.contains("[rejected]") {
            self = .declined
        } else {
            return nil
        }
    }

    /// Whether the push lost a race with another push to the same branch.
    public var isRace: Bool { self == .moved || self == .busy }
}

/// What the marshal does when its merge's push to the base is refused (issue 9, section 7).
///
/// A lost race costs a refetch, never an agent run: the merge is redone on the new base at once
/// up to ``redoLimit`` times; after that the item stays in its merge stage and is marshalled
/// again later (fetch, bring the branch up to date, check again, merge), up to ``marshalTries``
/// times before a person is asked. The item's attempts and spend do not grow.
///
/// ```swift
/// let race = BaseRace()
/// race.action(for: .busy, redone: 0)  // .redoOnNewBase
/// race.action(for: .busy, redone: race.redoLimit)  // .marshalAgain
/// ```
public struct BaseRace: Sendable, Equatable {
    /// How many times one merge is redone on a refetched base before it gives up.
    public var redoLimit: Int
    /// How many times the marshal runs again on a base that kept moving before a person decides.
    public var marshalTries: Int
    /// The wait before marshalling again.
    public var backoff: Backoff

    /// The marshal's answer to one refused push.
    public enum Action: Sendable, Equatable {
        /// Fetch the base, merge again on it and push again, now.
        case redoOnNewBase
        /// Leave the item in its merge stage and marshal it again after a backoff.
        case marshalAgain
        /// Not a race: the refusal is handled as the failure it is.
        case notARace
    }

    public init(redoLimit: Int = 5, marshalTries: Int = 6, backoff: Backoff = Backoff(initialSeconds: 1, maxSeconds: 15, jitter: 0.5)) {
        self.redoLimit = max(1, redoLimit)
        self.marshalTries = max(1, marshalTries)
        self.backoff = backoff
    }

    /// The action after a push refused for `refusal`, when the merge was already redone `redone` times.
    public func action(for refusal: PushRefusal?, redone: Int) -> Action {
        guard let refusal, refusal.isRace else { return .notARace }
        return redone < redoLimit ? .redoOnNewBase : .marshalAgain
    }
}
