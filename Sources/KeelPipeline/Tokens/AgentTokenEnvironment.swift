public import Foundation
public import KeelAgents

/// How a lent token reaches an agent: through its environment, never its command line (which
/// other users can read in the process list).
///
/// ```swift
/// var spec = invocation.spec(...)
/// try await broker.environment(for: .claudeCode).apply(to: &spec)
/// // spec.environment["CLAUDE_CODE_OAUTH_TOKEN"] holds the token, ANTHROPIC_API_KEY is unset,
/// // and spec.redactions keeps every known token out of the transcripts.
/// ```
public struct AgentTokenEnvironment: Sendable {
    /// The variables to set: the token under the agent's variable name.
    public var variables: [String: String]
    /// Variables to remove from the inherited environment, because the agent would use them
    /// instead of the lent token.
    public var unset: [String]
    /// The tokens to redact from the agent's output (the lent one and every other the broker knows).
    public var redactions: [String]
    /// When the lent token expires.
    public var expiresAt: Date

    /// Creates an environment.
    public init(variables: [String: String], unset: [String], redactions: [String], expiresAt: Date) {
        self.variables = variables
        self.unset = unset
        self.redactions = redactions
        self.expiresAt = expiresAt
    }

    /// Adds the variables, removals and redactions to `spec`, and drops the removed variables from
    /// its own environment.
    public func apply(to spec: inout ProcessSpec) {
        // The spec's own variables win over the inherited ones, so an overriding one set there
        // (an API key in keel.yml's agent.env) must go too.
        for name in unset { spec.environment[name] = nil }
        spec.environment.merge(variables) { _, lent in lent }
        spec.unsetEnvironment += unset.filter { !spec.unsetEnvironment.contains($0) }
        spec.redactions += redactions.filter { !spec.redactions.contains($0) }
    }
}

extension AgentTokenEnvironment: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The variable names only: tokens are never printed.
    public var description: String {
        "AgentTokenEnvironment(sets \(variables.keys.sorted()), unsets \(unset), expires at \(expiresAt.tokenTimestamp), tokens redacted)"
    }
    /// Same as ``description``.
    public var debugDescription: String { description }
    /// A mirror without the tokens.
    public var customMirror: Mirror {
        Mirror(self, children: ["variables": variables.keys.sorted(), "unset": unset, "expiresAt": expiresAt], displayStyle: .struct)
    }
}
