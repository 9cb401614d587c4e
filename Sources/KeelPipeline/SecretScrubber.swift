import Foundation

/// Removes secrets (tokens, webhook URLs, bot tokens) from text that may end up in errors and
/// logs, for every outbound client: the alert channels and the token broker.
struct SecretScrubber: Sendable {
    private let secrets: [String]

    init(_ secrets: [String]) {
        // Longest first, so a secret that contains another is removed whole. A fragment shorter
        // than 6 characters (a URL path like `/`) is no secret and would garble every message.
        self.secrets = Array(Set(secrets.filter { $0.count >= 6 })).sorted { $0.count > $1.count }
    }

    func callAsFunction(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "[REDACTED]") }
    }

    /// The error itself when none of its texts holds a secret, else a ``RedactedError`` with its
    /// scrubbed description.
    func scrub(_ error: any Error) -> any Error {
        let texts = [String(describing: error), String(reflecting: error)]
        guard secrets.contains(where: { secret in texts.contains { $0.contains(secret) } }) else { return error }
        return RedactedError(description: self(String(describing: error)))
    }
}

/// The text of an error whose description held a secret; it stands in for the original as a cause.
struct RedactedError: Error, Sendable, CustomStringConvertible {
    let description: String
}
