import Crypto
import Foundation

/// An Ed25519 public key that identifies an agent: its agent id derives from it (AISS §5.1)
/// and it verifies the agent's stamps.
///
/// ```swift
/// let key = try AgentKey(base64: identityDocument.publicKey)
/// key.agentID        // "7Hq...", 32 Base58 characters
/// key.genesisHash    // the previous_hash of the chain's first event
/// ```
public struct AgentKey: Sendable, Hashable, CustomStringConvertible {
    /// The raw 32 bytes of the key.
    public let rawRepresentation: [UInt8]
    /// `Base58(SHA-256(key))[0..<32]`.
    public let agentID: String
    let verifier: Curve25519.Signing.PublicKey

    /// A key from its raw 32 bytes.
    public init(rawRepresentation: some Collection<UInt8>) throws(LedgerError) {
        let raw = Array(rawRepresentation)
        guard raw.count == 32 else {
            throw LedgerError(.invalidKey, "an Ed25519 public key is 32 bytes, this one is \(raw.count); pass the identity's public_key")
        }
        do {
            verifier = try Curve25519.Signing.PublicKey(rawRepresentation: raw)
        } catch {
            throw LedgerError(.invalidKey, "the bytes are not an Ed25519 public key", cause: error)
        }
        self.rawRepresentation = raw
        agentID = AgentID.derive(publicKey: raw)
    }

    /// A key from standard base64 of its raw 32 bytes (the identity document's `public_key`).
    public init(base64: String) throws(LedgerError) {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw LedgerError(.invalidKey, "the public key \"\(base64.prefix(60))\" is not standard base64; pass the identity's public_key field")
        }
        try self.init(rawRepresentation: Array(data))
    }

    /// A key named by `text`: either the base64 public key or an identity document (JSON).
    ///
    /// This is what `--public-key` accepts once a path has been read; a document's agent id
    /// must derive from its key.
    public init(pinning text: String) throws(LedgerError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") {
            let document = try IdentityDocument.parse(Array(trimmed.utf8))
            let key = try document.agentKey()
            guard exactlyEqual(key.agentID, document.agentID) else {
                throw LedgerError(
                    .malformedIdentity,
                    "the identity document's agent_id \(document.agentID) does not derive from its public_key (that key's id is \(key.agentID))"
                )
            }
            self = key
        } else {
            try self.init(base64: trimmed)
        }
    }

    /// Standard base64 of the raw key, as identity documents and rotation payloads write it.
    public var base64: String {
        Data(rawRepresentation).base64EncodedString()
    }

    /// The `previous_hash` of a chain's first event: SHA-256 hex of the raw key (AISS §9.3).
    public var genesisHash: String {
        sha256Hex(rawRepresentation)
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        signature.count == 64 && verifier.isValidSignature(signature, for: message)
    }

    /// Keys are equal when their raw bytes are.
    public static func == (lhs: AgentKey, rhs: AgentKey) -> Bool {
        lhs.rawRepresentation == rhs.rawRepresentation
    }

    /// Hashes the raw bytes.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawRepresentation)
    }

    /// `AgentKey(<agent id>)`.
    public var description: String { "AgentKey(\(agentID))" }
}

/// Decodes canonical standard base64, the one spelling AISS writes signatures and keys in
/// (RFC 4648 §4 with `=` padding, no whitespace or line breaks, the unused low bits of the last
/// character zero); any other spelling is nil.
///
/// Lenient decoding would let whoever can write a stored event change its bytes without
/// breaking its signature: `...Q==` and `...R==` can decode to the same 64 bytes.
func decodeBase64(_ text: String) -> [UInt8]? {
    guard let data = Data(base64Encoded: text), exactlyEqual(data.base64EncodedString(), text) else { return nil }
    return Array(data)
}
