/// What the expensive half of verification learns about one event, on its own: its fields,
/// its hash and whether its signature verifies. Computed in parallel; the cheap linkage pass
/// then walks the digests in order.
struct EventDigest: Sendable {
    enum PreviousHash: Sendable {
        case missing
        case null
        case value(String)
        case wrongType
    }

    enum SignatureCheck: Sendable {
        /// Verifies under the key its agent_id names.
        case valid
        /// Does not verify under the key its agent_id names.
        case invalid
        /// Not the canonical standard base64 of 64 bytes (see `decodeBase64`).
        case undecodable
        /// No key is known for its agent_id (yet).
        case noKey
        /// No signature (or no agent_id) to check.
        case absent
    }

    var isObject = false
    var problems: [String] = []
    var agentID: String?
    var timestamp: Int64?
    var nonce: String?
    var previousHash: PreviousHash = .missing
    var seq: Int64?
    var eventType: String?
    /// The event's hash: in the dialect its signature verified in, RFC 8785 otherwise.
    var hash: String?
    /// The hash in the other dialect, when the two differ (see ``CanonicalJSON/Dialect``).
    var alternateHash: String?
    var signature: SignatureCheck = .absent
    var rotation: KeyRotation?
    var rotationProblem: String?
    var checkpoint: Checkpoint.Record?

    /// Digests one loaded event, checking its signature against `keys` (agent id → key).
    init(_ loaded: Result<JSONValue, LedgerError>, keys: [String: AgentKey]) {
        let value: JSONValue
        switch loaded {
        case .failure(let error):
            problems.append(error.message)
            return
        case .success(let loadedValue):
            value = loadedValue
        }
        guard case .object(let event) = value else {
            problems.append("the event is \(value.typeName), not an object")
            return
        }
        isObject = true

        func string(_ name: JSONKey) -> String? {
            switch event[name] {
            case .string(let text)?: return text
            case nil: problems.append("no \"\(name)\""); return nil
            case let other?: problems.append("\"\(name)\" is \(other.typeName), not a string"); return nil
            }
        }
        if let version = string("version"), version != "AISS-1.0" {
            problems.append("\"version\" is \"\(version.prefix(40))\", not \"AISS-1.0\"")
        }
        agentID = string("agent_id")
        nonce = string("nonce")
        let signatureText = string("signature")
        switch event["timestamp"] {
        case .integer(let seconds)?: timestamp = seconds
        case nil: problems.append("no \"timestamp\"")
        case let other?: problems.append("\"timestamp\" is \(other.typeName), not an integer")
        }
        switch event["previous_hash"] {
        case .string(let text)?: previousHash = .value(text)
        case .null?: previousHash = .null
        case nil: previousHash = .missing; problems.append("no \"previous_hash\"")
        case let other?: previousHash = .wrongType; problems.append("\"previous_hash\" is \(other.typeName), not a string")
        }
        switch event["payload"] {
        case .object(let payload)?:
            seq = payload["seq"]?.integerValue
            eventType = payload["event_type"]?.stringValue
            if eventType == KeyRotation.eventType {
                do {
                    rotation = try KeyRotation(payload: payload)
                } catch {
                    rotationProblem = error.message
                }
            } else if eventType == Checkpoint.eventType {
                checkpoint = Checkpoint.Record(payload: payload)
            }
        case nil: problems.append("no \"payload\"")
        case let other?: problems.append("\"payload\" is \(other.typeName), not an object")
        }

        var unsigned = event
        unsigned["signature"] = nil
        let rfcBytes: [UInt8]
        do {
            rfcBytes = try CanonicalJSON.encode(.object(unsigned))
        } catch {
            problems.append(error.message)
            return
        }
        hash = sha256Hex(rfcBytes)
        var pythonBytes: [UInt8]?
        if CanonicalJSON.isDialectSensitive(.object(unsigned)), let other = try? CanonicalJSON.encode(.object(unsigned), dialect: .aissPython),
            other != rfcBytes
        {
            pythonBytes = other
            alternateHash = sha256Hex(other)
        }

        guard let agentID, let signatureText else { return }
        guard let rawSignature = decodeBase64(signatureText), rawSignature.count == 64 else {
            signature = .undecodable
            return
        }
        guard let key = keys[agentID] else {
            signature = .noKey
            return
        }
        if key.isValidSignature(rawSignature, for: rfcBytes) {
            signature = .valid
        } else if let pythonBytes, key.isValidSignature(rawSignature, for: pythonBytes) {
            // Written by aiss with doubles or integers beyond 2^53 in it: its hash is the one in aiss's dialect.
            signature = .valid
            swap(&hash, &alternateHash)
        } else {
            signature = .invalid
        }
    }

    /// Whether `previous` is this event's hash in either dialect.
    func isHash(_ previous: String) -> Bool {
        if let hash, exactlyEqual(hash, previous) { return true }
        if let alternateHash, exactlyEqual(alternateHash, previous) { return true }
        return false
    }
}
