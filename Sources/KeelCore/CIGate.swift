public import Foundation

/// A check as the forge reports it at one moment.
public struct ObservedCheck: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable {
        case pending
        case success
        case failure
    }

    public var name: String
    public var state: State
    /// The check's log or summary, handed to the next attempt when it failed.
    public var output: String

    public init(name: String, state: State, output: String = "") {
        self.name = name
        self.state = state
        self.output = output
    }
}

/// What the CI gate says about a pull request's head.
public enum GateDecision: Sendable, Equatable {
    /// Every required check passed.
    case passed(required: [String])
    /// A required check failed: back to develop with its output.
    case failed(checks: [String])
    /// A required check has not registered or not finished yet: wait.
    case waiting(missing: [String], pending: [String])
    /// The deadline passed with required checks still missing or pending.
    case timedOut(missing: [String], pending: [String])
}

/// The CI gate of the field report's incident 3: the required checks are the checks observed
/// *plus* the checks the gate definition declares (branch protection, rulesets, keel.yml), so a
/// check that registers minutes after the pull request opened is waited for, never taken as passed.
///
/// ```swift
/// let gate = CIGate(declared: ["test", "lint"], deadline: 1800)
/// gate.decide(observed: [ObservedCheck(name: "lint", state: .success)], since: opened, now: now)  // .waiting(missing: ["test"], ...)
/// ```
public struct CIGate: Sendable, Equatable {
    /// The checks the gate definition requires.
    public var declared: [String]
    /// How long to wait for required checks to register and finish.
    public var deadline: TimeInterval
    /// Whether the declared checks count. Only a test replaying the incident turns this off: the
    /// observed snapshot alone is exactly the bug.
    public var includesDeclared: Bool

    public init(declared: [String], deadline: TimeInterval, includesDeclared: Bool = true) {
        self.declared = declared
        self.deadline = deadline
        self.includesDeclared = includesDeclared
    }

    public func decide(observed: [ObservedCheck], since start: Date, now: Date) -> GateDecision {
        // The latest report of each check wins (a re-run replaces a failure).
        var latest: [String: ObservedCheck.State] = [:]
        for check in observed { latest[check.name] = check.state }
        var required = Set(latest.keys)
        if includesDeclared { required.formUnion(declared) }
        let names = required.sorted()
        let failed = names.filter { latest[$0] == .failure }
        if !failed.isEmpty { return .failed(checks: failed) }
        let missing = names.filter { latest[$0] == nil }
        let pending = names.filter { latest[$0] == .pending }
        if missing.isEmpty && pending.isEmpty { return .passed(required: names) }
        if now.timeIntervalSince(start) >= deadline { return .timedOut(missing: missing, pending: pending) }
        return .waiting(missing: missing, pending: pending)
    }
}
