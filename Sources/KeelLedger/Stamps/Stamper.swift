public import Foundation

/// Makes signed AISS-1.0 stamps, enforcing Keel's payload rules.
///
/// Keel's payloads carry a string `event_type` and an integer `seq`; every number is an
/// integer within ±(2^53 − 1) (money in micro-USD), so that RFC 8785, JavaScript and the
/// Python reference all hash the same bytes; every member name, at every depth, is ASCII.
/// These rules apply when Keel writes; verification of other people's bundles does not
/// impose them.
///
/// ```swift
/// let stamp = try Stamper.stamp(
///     payload: ["event_type": "state_transition", "seq": 42, "item": 7, "to": "developing"],
///     previousHash: head.hash, signer: identity, timestamp: clock.unixSeconds, nonce: UUID())
/// try store.append(stamp.text, hash: stamp.hash)
/// ```
public enum Stamper {
    /// The largest integer a payload may hold (2^53 − 1, JavaScript's `Number.MAX_SAFE_INTEGER`).
    public static let maxPayloadInteger: Int64 = CanonicalJSON.maxExactInteger

    /// Signs `payload` as the event after the one whose hash is `previousHash`.
    ///
    /// The signature is standard base64 Ed25519 over the canonical event without `signature`.
    /// `nonce` must be a version 4 (random) UUID; it is written in lowercase.
    public static func stamp(
        payload: JSONObject,
        previousHash: String,
        signer: SigningIdentity,
        timestamp: Int64,
        nonce: UUID
    ) throws(LedgerError) -> Stamp {
        try validate(payload: payload)
        guard isSHA256Hex(previousHash) else {
            throw LedgerError(
                .invalidPayload, "previous_hash must be 64 lowercase hex digits (the previous stamp's hash), got \"\(previousHash.prefix(80))\"")
        }
        let uuid = nonce.uuid
        guard uuid.6 >> 4 == 4, uuid.8 & 0xC0 == 0x80 else {
            throw LedgerError(
                .invalidPayload,
                "the nonce \(nonce.uuidString.lowercased()) is not a version 4 UUID; use UUID() or a random source that sets the version bits")
        }
        var event: JSONObject = [
            "version": "AISS-1.0",
            "agent_id": .string(signer.agentID),
            "timestamp": .integer(timestamp),
            "nonce": .string(nonce.uuidString.lowercased()),
            "payload": .object(payload),
            "previous_hash": .string(previousHash),
        ]
        let signature = try signer.signature(for: try CanonicalJSON.encode(.object(event)))
        event["signature"] = .string(Data(signature).base64EncodedString())
        return try Stamp(event: event)
    }

    /// Signs the first event of a chain: its `previous_hash` is SHA-256 hex of the signer's
    /// raw public key (AISS §9.3, aiss `stamp_genesis_event`).
    public static func stampGenesis(payload: JSONObject, signer: SigningIdentity, timestamp: Int64, nonce: UUID) throws(LedgerError) -> Stamp {
        try stamp(payload: payload, previousHash: signer.key.genesisHash, signer: signer, timestamp: timestamp, nonce: nonce)
    }

    /// Checks Keel's payload rules; the error names the offending member.
    public static func validate(payload: JSONObject) throws(LedgerError) {
        guard let type = payload["event_type"] else {
            throw LedgerError(.invalidPayload, "the payload has no \"event_type\"; every Keel stamp names its kind")
        }
        guard case .string(let name) = type, !name.isEmpty else {
            throw LedgerError(.invalidPayload, "the payload's \"event_type\" is \(type.typeName), not a non-empty string")
        }
        guard let seq = payload["seq"] else {
            throw LedgerError(.invalidPayload, "the \(name) payload has no \"seq\"; every Keel stamp records its position")
        }
        guard case .integer = seq else {
            throw LedgerError(.invalidPayload, "the \(name) payload's \"seq\" is \(seq.typeName), not an integer")
        }
        try validate(.object(payload), path: "payload")
    }

    static func beyondExactIntegers(_ path: String, _ digits: String) -> LedgerError {
        LedgerError(.invalidPayload, "\(path) is \(digits), beyond ±(2^53 − 1) where JSON numbers stop being exact; store it as a string")
    }

    static func validate(_ value: JSONValue, path: String) throws(LedgerError) {
        switch value {
        case .null, .bool, .string:
            return
        case .integer(let integer) where integer.magnitude <= maxPayloadInteger.magnitude:
            return
        case .integer(let integer):
            throw beyondExactIntegers(path, String(integer))
        case .bigInteger(let digits):
            throw beyondExactIntegers(path, digits)
        case .number(let double):
            throw LedgerError(
                .invalidPayload,
                "\(path) is the non-integer number \(double); ledger payloads hold integers only (money in micro-USD)"
            )
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                try validate(element, path: "\(path)[\(index)]")
            }
        case .object(let members):
            for (key, member) in members {
                guard key.string.utf8.allSatisfy({ $0 < 0x80 }) else {
                    throw LedgerError(
                        .invalidPayload, "\(path) has the member name \"\(key.string)\", which is not ASCII; ledger payload names are ASCII")
                }
                try validate(member, path: "\(path).\(key.string)")
            }
        }
    }
}
