/// How a failure should be handled, decided once at the boundary where it happens.
public enum ErrorClass: String, Sendable, Codable, CaseIterable {
    /// Retry with capped, jittered exponential backoff.
    case transient
    /// Retry after a known reset time.
    case wait
    /// No retry will fix it: escalate to a person.
    case permanent
    /// A guard refused: route back to the agent with the reason.
    case policy
}
