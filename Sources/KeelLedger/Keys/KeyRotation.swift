/// A key rotation attestation as a chain event (AISS §12, aiss `create_rotation_pcp_event`):
/// the payload of a `key_rotation` stamp, signed by the OLD key, that authorises the new key
/// for every event after it. Old events stay verifiable: the old public key is in the payload.
///
/// ```swift
/// let next = try keyFile.prepareRotation(createdAt: now)
/// let rotation = KeyRotation(previous: current.key, next: next.key, rotationTimestamp: now)
/// let stamp = try Stamper.stamp(payload: rotation.payload(seq: head.seq + 1), previousHash: head.hash,
///                               signer: current, timestamp: now, nonce: UUID())
/// // store the stamp, then:
/// let identity = try keyFile.commitRotation()
/// ```
public struct KeyRotation: Sendable, Hashable {
    /// The `event_type` of a rotation stamp.
    public static let eventType = "key_rotation"

    /// The key that signs the rotation and every event before it.
    public var previous: AgentKey
    /// The key that signs every event after the rotation.
    public var next: AgentKey
    /// When the rotation was decided, Unix seconds.
    public var rotationTimestamp: Int64

    /// A rotation from `previous` to `next`.
    public init(previous: AgentKey, next: AgentKey, rotationTimestamp: Int64) {
        self.previous = previous
        self.next = next
        self.rotationTimestamp = rotationTimestamp
    }

    /// Reads a rotation from a payload written by Keel or by aiss.
    ///
    /// Both keys must decode and each agent id must derive from its key.
    public init(payload: JSONObject) throws(LedgerError) {
        guard case .string(let type)? = payload["event_type"], type == Self.eventType else {
            throw LedgerError(.malformedEvent, "the payload is not a key_rotation")
        }
        func field(_ name: String) throws(LedgerError) -> String {
            guard case .string(let value)? = payload[JSONKey(name)] else {
                throw LedgerError(.malformedEvent, "the key_rotation payload has no string \"\(name)\"")
            }
            return value
        }
        let previousKey: AgentKey
        let nextKey: AgentKey
        do {
            previousKey = try AgentKey(base64: try field("previous_public_key"))
            nextKey = try AgentKey(base64: try field("new_public_key"))
        } catch {
            throw LedgerError(.malformedEvent, "the key_rotation payload names a key that does not decode: \(error.message)", cause: error)
        }
        let previousID = try field("previous_agent_id")
        let nextID = try field("new_agent_id")
        guard exactlyEqual(previousKey.agentID, previousID) else {
            throw LedgerError(.malformedEvent, "the key_rotation's previous_agent_id \(previousID) does not derive from its previous_public_key")
        }
        guard exactlyEqual(nextKey.agentID, nextID) else {
            throw LedgerError(.malformedEvent, "the key_rotation's new_agent_id \(nextID) does not derive from its new_public_key")
        }
        guard case .integer(let timestamp)? = payload["rotation_timestamp"] else {
            throw LedgerError(.malformedEvent, "the key_rotation payload has no integer \"rotation_timestamp\"")
        }
        self.init(previous: previousKey, next: nextKey, rotationTimestamp: timestamp)
    }

    /// The stamp payload: aiss's rotation fields plus Keel's `seq`.
    public func payload(seq: Int64) -> JSONObject {
        [
            "event_type": .string(Self.eventType),
            "attestation_type": .string(Self.eventType),
            "seq": .integer(seq),
            "previous_agent_id": .string(previous.agentID),
            "previous_public_key": .string(previous.base64),
            "new_agent_id": .string(next.agentID),
            "new_public_key": .string(next.base64),
            "rotation_timestamp": .integer(rotationTimestamp),
        ]
    }
}
