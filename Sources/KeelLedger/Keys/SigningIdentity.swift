import Crypto

/// An Ed25519 private key that signs stamps, with the public identity that goes with it.
///
/// Load it from disk with ``KeyFile``; ``generate(createdAt:)`` is for tests and rotation.
///
/// ```swift
/// let identity = try KeyFile(path: "/var/lib/keel/ledger.key").loadOrCreate(createdAt: now)
/// identity.agentID            // the chain's agent_id
/// identity.document           // the identity document to publish
/// ```
public struct SigningIdentity: Sendable {
    let privateKey: Curve25519.Signing.PrivateKey
    /// The public key.
    public let key: AgentKey
    /// When the key was created, Unix seconds (the identity document's `created_at`).
    public let createdAt: Int64

    /// An identity from a raw 32-byte Ed25519 private key (seed).
    public init(privateKeyRawRepresentation raw: some Collection<UInt8>, createdAt: Int64) throws(LedgerError) {
        let bytes = Array(raw)
        guard bytes.count == 32 else {
            throw LedgerError(.invalidKey, "an Ed25519 private key is 32 bytes, this one is \(bytes.count)")
        }
        do {
            privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
        } catch {
            throw LedgerError(.invalidKey, "the bytes are not an Ed25519 private key", cause: error)
        }
        key = try AgentKey(rawRepresentation: Array(privateKey.publicKey.rawRepresentation))
        self.createdAt = createdAt
    }

    /// A fresh identity from the system's secure random generator.
    public static func generate(createdAt: Int64) -> SigningIdentity {
        let privateKey = Curve25519.Signing.PrivateKey()
        // A key that swift-crypto just made always round-trips.
        return try! SigningIdentity(privateKeyRawRepresentation: Array(privateKey.rawRepresentation), createdAt: createdAt)
    }

    /// The agent id (`Base58(SHA-256(public key))[0..<32]`).
    public var agentID: String { key.agentID }

    /// The identity document to publish with the chain and its exports.
    public var document: IdentityDocument {
        IdentityDocument(key: key, createdAt: createdAt)
    }

    /// The raw 32-byte private key, for writing the key file.
    var privateKeyRawRepresentation: [UInt8] {
        Array(privateKey.rawRepresentation)
    }

    /// The Ed25519 signature of `message`.
    public func signature(for message: [UInt8]) throws(LedgerError) -> [UInt8] {
        do {
            return Array(try privateKey.signature(for: message))
        } catch {
            throw LedgerError(.crypto, "Ed25519 signing failed", cause: error)
        }
    }
}
