import Crypto
import Foundation

/// The per-run secret a worker presents (`Authorization: Bearer <secret>`) to borrow a token
/// from the ``TokenBrokerServer``.
///
/// It is compared in constant time and never printed: `description` hides it.
///
/// ```swift
/// let secret = BearerSecret.random()
/// workerEnvironment["KEEL_TOKEN_BROKER_SECRET"] = secret.value
/// ```
public struct BearerSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself, to hand to the workers of this run.
    public let value: String

    /// Wraps a secret chosen elsewhere; nil when it is shorter than 16 characters.
    public init?(_ value: String) {
        guard value.count >= 16 else { return nil }
        self.value = value
    }

    /// 32 random bytes, base64url-encoded.
    public static func random() -> BearerSecret {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// 32 bytes from `generator`, base64url-encoded (tests pass a seeded generator).
    public static func random(using generator: inout some RandomNumberGenerator) -> BearerSecret {
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let text = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return BearerSecret(unchecked: text)
    }

    private init(unchecked value: String) {
        self.value = value
    }

    /// Whether `presented` is the secret. Both sides are hashed first, so the comparison runs
    /// over two 32-byte digests whatever was presented: its time says nothing about where the
    /// first differing byte is or how long the secret is.
    public func matches(_ presented: String) -> Bool {
        let expected = Array(SHA256.hash(data: Data(value.utf8)))
        let candidate = Array(SHA256.hash(data: Data(presented.utf8)))
        var difference: UInt8 = 0
        for index in expected.indices { difference |= expected[index] ^ candidate[index] }
        return difference == 0
    }

    /// The secret of an `Authorization: Bearer <secret>` header value, if that is what it holds.
    static func presented(in header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let secret = parts[1].trimmingCharacters(in: .whitespaces)
        return secret.isEmpty ? nil : secret
    }

    /// Never the secret.
    public var description: String { "BearerSecret(redacted)" }
    /// Never the secret.
    public var debugDescription: String { description }
    /// A mirror without the secret.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
