/// One signed AISS-1.0 event: `version`, `agent_id`, `timestamp`, `nonce`, `payload`,
/// `previous_hash`, `signature`.
///
/// ``text`` is the canonical JSON of the whole event; it is what Keel stores (column
/// `ledger_events.event`) and exports. ``hash`` is SHA-256 hex of the canonical event
/// without `signature` (aiss `compute_event_hash`): the next event's `previous_hash`.
///
/// ```swift
/// let stamp = try Stamp.parse(row.event)
/// stamp.payload["event_type"]    // .string("state_transition")
/// stamp.hash                     // the next event's previous_hash
/// ```
public struct Stamp: Sendable, Hashable, CustomStringConvertible {
    /// Every member of the event, `signature` included (members aiss or others add are kept:
    /// they are hashed and signed too).
    public let event: JSONObject
    /// `"AISS-1.0"`.
    public let version: String
    /// The signer's agent id.
    public let agentID: String
    /// Unix seconds.
    public let timestamp: Int64
    /// A UUIDv4, unique per agent (anti-replay).
    public let nonce: String
    /// What happened; Keel's payloads carry `event_type` and `seq`.
    public let payload: JSONObject
    /// The previous event's ``hash`` (for the first event, the signer key's ``AgentKey/genesisHash``).
    public let previousHash: String
    /// Standard base64 of the Ed25519 signature over ``signedBytes`` (only its canonical spelling verifies).
    public let signature: String
    /// The canonical JSON of the whole event.
    public let text: String
    /// SHA-256 hex of ``signedBytes``.
    public let hash: String

    /// A stamp from the members of an event.
    ///
    /// The seven AISS fields must be present with their types (`timestamp` an integer,
    /// `payload` an object, the others strings); the signature is not checked here.
    public init(event: JSONObject) throws(LedgerError) {
        func string(_ name: JSONKey) throws(LedgerError) -> String {
            guard let value = event[name] else {
                throw LedgerError(.malformedEvent, "the event has no \"\(name)\"")
            }
            guard case .string(let text) = value else {
                throw LedgerError(.malformedEvent, "the event's \"\(name)\" is \(value.typeName), not a string")
            }
            return text
        }
        version = try string("version")
        agentID = try string("agent_id")
        nonce = try string("nonce")
        previousHash = try string("previous_hash")
        signature = try string("signature")
        guard let time = event["timestamp"] else { throw LedgerError(.malformedEvent, "the event has no \"timestamp\"") }
        guard case .integer(let seconds) = time else {
            throw LedgerError(.malformedEvent, "the event's \"timestamp\" is \(time.typeName), not an integer (Unix seconds)")
        }
        timestamp = seconds
        guard let body = event["payload"] else { throw LedgerError(.malformedEvent, "the event has no \"payload\"") }
        guard case .object(let members) = body else {
            throw LedgerError(.malformedEvent, "the event's \"payload\" is \(body.typeName), not an object")
        }
        payload = members
        self.event = event
        text = String(decoding: try CanonicalJSON.encode(.object(event)), as: UTF8.self)
        hash = sha256Hex(try Stamp.signedBytes(of: event))
    }

    /// Parses a stamp from its JSON text (normally the exact ``text`` Keel stored).
    public static func parse(_ text: String) throws(LedgerError) -> Stamp {
        try parse(Array(text.utf8))
    }

    /// Parses a stamp from JSON bytes.
    public static func parse(_ bytes: some Collection<UInt8>) throws(LedgerError) -> Stamp {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw LedgerError(.malformedEvent, "the event is not valid JSON: \(error.message)", cause: error)
        }
        guard case .object(let members) = value else {
            throw LedgerError(.malformedEvent, "the event is \(value.typeName), not an object")
        }
        return try Stamp(event: members)
    }

    /// The event as a JSON value.
    public var json: JSONValue { .object(event) }

    /// `payload.event_type`, when it is a string.
    public var eventType: String? { payload["event_type"]?.stringValue }

    /// `payload.seq`, when it is an integer.
    public var seq: Int64? { payload["seq"]?.integerValue }

    /// The bytes that are hashed and signed: the canonical event without `signature`.
    public var signedBytes: [UInt8] {
        // The members were canonicalized in init, so this cannot fail.
        (try? Stamp.signedBytes(of: event)) ?? []
    }

    /// Whether ``signature`` is `key`'s valid signature of ``signedBytes``, in canonical base64
    /// (another spelling of the same 64 bytes is not: it is a change to the stored event).
    public func isSigned(by key: AgentKey) -> Bool {
        guard let raw = decodeBase64(signature) else { return false }
        return key.isValidSignature(raw, for: signedBytes)
    }

    static func signedBytes(of event: JSONObject, dialect: CanonicalJSON.Dialect = .rfc8785) throws(LedgerError) -> [UInt8] {
        var unsigned = event
        unsigned["signature"] = nil
        return try CanonicalJSON.encode(.object(unsigned), dialect: dialect)
    }

    /// Two stamps are equal when their canonical texts are the same bytes.
    public static func == (lhs: Stamp, rhs: Stamp) -> Bool {
        exactlyEqual(lhs.text, rhs.text)
    }

    /// Hashes the canonical text's bytes.
    public func hash(into hasher: inout Hasher) {
        hashBytes(of: text, into: &hasher)
    }

    /// The canonical text.
    public var description: String { text }
}
