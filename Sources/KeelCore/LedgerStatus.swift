public import Foundation

/// A person's decision on a chain break.
public enum BreakDecision: String, Sendable, Codable, CaseIterable {
    /// The break is explained and acceptable: the chain counts as valid again.
    case validate
    /// Acknowledged without an explanation: the chain stays flagged.
    case ignore
    /// A confirmed anomaly: the chain stays flagged.
    case reject
}

/// The integrity state of the audit ledger, as `keel ledger status` reports it.
public enum LedgerStatus: String, Sendable, Codable {
    /// No break, or every break validated by a person.
    case valid
    /// A break waits for a person's decision, within its deadline.
    case breakPending = "break_pending"
    /// A break was rejected, ignored, or left undecided past its deadline.
    case brokenDeclared = "broken_declared"
}

/// What the status policy needs to know about one break.
public struct BreakState: Sendable, Equatable {
    public var id: Int64
    public var deadline: Date
    public var decision: BreakDecision?
    /// Whether `timeout_no_action` has been stamped for it.
    public var timedOut: Bool

    public init(id: Int64, deadline: Date, decision: BreakDecision?, timedOut: Bool) {
        self.id = id
        self.deadline = deadline
        self.decision = decision
        self.timedOut = timedOut
    }

    /// Undecided and past its deadline, with no `timeout_no_action` stamped yet.
    public func needsTimeoutStamp(now: Date) -> Bool {
        decision == nil && !timedOut && now >= deadline
    }
}

/// Pure rules for the ledger's status and the break timeout.
public enum LedgerPolicy {
    /// The default time a person has to decide on a break.
    public static let defaultDecisionWindow: TimeInterval = 72 * 3600

    /// The worst state over all breaks: a flagged chain stays flagged while a new break is pending,
    /// and a break that timed out stays flagged whatever is decided on it later.
    public static func status(of breaks: [BreakState], now: Date) -> LedgerStatus {
        var pending = false
        for b in breaks {
            if b.timedOut { return .brokenDeclared }
            switch b.decision {
            case .validate: continue
            case .ignore, .reject: return .brokenDeclared
            case nil:
                if b.timedOut || now >= b.deadline { return .brokenDeclared }
                pending = true
            }
        }
        return pending ? .breakPending : .valid
    }
}
