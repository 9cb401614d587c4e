import Foundation

/// The secret a state-changing request must present, compared in constant time.
///
/// The token is never logged, rendered or echoed: `description` hides it.
struct AdminToken: Sendable, CustomStringConvertible {
    private let bytes: [UInt8]

    /// Nil when no token is configured (absent or empty): then nothing state-changing is allowed.
    init?(_ configured: String?) {
        guard let configured, !configured.isEmpty else { return nil }
        bytes = Array(configured.utf8)
    }

    var description: String { "AdminToken(redacted)" }

    /// Whether `presented` is the token. The time taken depends only on the configured token's
    /// length, never on where the first differing byte is or on the presented length.
    func matches(_ presented: String) -> Bool {
        let candidate = Array(presented.utf8)
        // Walk the configured length whatever was presented; an empty or short candidate is read
        // cyclically so the loop has no data-dependent exit, and the length mismatch is folded in.
        let padded = candidate.isEmpty ? [0] : candidate
        var difference = UInt64(truncatingIfNeeded: candidate.count ^ bytes.count)
        for index in bytes.indices {
            difference |= UInt64(padded[index % padded.count] ^ bytes[index])
        }
        return difference == 0
    }

    /// The token of an `Authorization: Bearer <token>` header, if that is what the header holds.
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
