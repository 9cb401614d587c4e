/// An AISS-1.0 identity document (AISS §6.1): who signs a chain.
///
/// ```json
/// {"agent_id":"7Hq...","algorithm":"Ed25519","created_at":1790000000,
///  "public_key":"base64 of the raw 32 bytes","version":"AISS-1.0"}
/// ```
///
/// ```swift
/// let document = identity.document
/// let text = try document.encoded()               // canonical JSON
/// let back = try IdentityDocument.parse(text)     // == document
/// ```
public struct IdentityDocument: Sendable, Hashable {
    /// `"AISS-1.0"`.
    public var version: String
    /// The agent id; must derive from ``publicKey`` (see ``AgentID/derive(publicKey:)``).
    public var agentID: String
    /// Standard base64 of the raw 32-byte Ed25519 public key.
    public var publicKey: String
    /// `"Ed25519"`.
    public var algorithm: String
    /// When the identity was created, Unix seconds.
    public var createdAt: Int64
    /// Optional application data (aiss writes it when given).
    public var metadata: JSONValue?

    /// The document for `key`, created at `createdAt`.
    public init(key: AgentKey, createdAt: Int64, metadata: JSONValue? = nil) {
        self.version = "AISS-1.0"
        self.agentID = key.agentID
        self.publicKey = key.base64
        self.algorithm = "Ed25519"
        self.createdAt = createdAt
        self.metadata = metadata
    }

    /// A document from its JSON object.
    ///
    /// Requires `agent_id`, `public_key`, `version`, `algorithm` (`Ed25519`) and `created_at`
    /// (an integer); other members except `metadata` are ignored.
    public init(json: JSONValue) throws(LedgerError) {
        guard case .object(let members) = json else {
            throw LedgerError(.malformedIdentity, "the identity document is \(json.typeName), not an object")
        }
        func string(_ name: String) throws(LedgerError) -> String {
            guard let value = members[JSONKey(name)] else {
                throw LedgerError(.malformedIdentity, "the identity document has no \"\(name)\"")
            }
            guard case .string(let text) = value else {
                throw LedgerError(.malformedIdentity, "the identity document's \"\(name)\" is \(value.typeName), not a string")
            }
            return text
        }
        version = try string("version")
        agentID = try string("agent_id")
        publicKey = try string("public_key")
        algorithm = try string("algorithm")
        guard algorithm == "Ed25519" else {
            throw LedgerError(.malformedIdentity, "the identity's algorithm is \"\(algorithm)\"; AISS-1.0 ledgers are signed with Ed25519")
        }
        guard let created = members["created_at"] else {
            throw LedgerError(.malformedIdentity, "the identity document has no \"created_at\"")
        }
        guard case .integer(let seconds) = created else {
            throw LedgerError(.malformedIdentity, "the identity document's \"created_at\" is \(created.typeName), not an integer (Unix seconds)")
        }
        createdAt = seconds
        metadata = members["metadata"]
    }

    /// Parses a document from JSON bytes.
    public static func parse(_ bytes: some Collection<UInt8>) throws(LedgerError) -> IdentityDocument {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw LedgerError(.malformedIdentity, "the identity document is not valid JSON: \(error.message)", cause: error)
        }
        return try IdentityDocument(json: value)
    }

    /// The document as a JSON object.
    public var json: JSONValue {
        var members: JSONObject = [
            "version": .string(version),
            "agent_id": .string(agentID),
            "public_key": .string(publicKey),
            "algorithm": .string(algorithm),
            "created_at": .integer(createdAt),
        ]
        if let metadata { members["metadata"] = metadata }
        return .object(members)
    }

    /// The document as canonical JSON bytes.
    public func encoded() throws(LedgerError) -> [UInt8] {
        try CanonicalJSON.encode(json)
    }

    /// The public key the document names.
    public func agentKey() throws(LedgerError) -> AgentKey {
        try AgentKey(base64: publicKey)
    }

    /// Whether ``agentID`` is the id that derives from ``publicKey``.
    public var agentIDMatchesKey: Bool {
        guard let key = try? agentKey() else { return false }
        return exactlyEqual(key.agentID, agentID)
    }
}
