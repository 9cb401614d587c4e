/// One problem found in a chain: where, what kind, what was expected and what was found.
///
/// ```swift
/// for brk in report.breaks {
///     print("#\(brk.index) \(brk.kind.rawValue): \(brk.message)")
/// }
/// ```
public struct ChainBreak: Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An event's `previous_hash` is not the hash of the event before it.
        case hashMismatch = "hash_mismatch"
        /// A signature that does not verify under the key the event names.
        case badSignature = "bad_signature"
        /// An event signed by, or naming, a key that is not authorised at that point (or a
        /// bundle whose identity is not the pinned one).
        case unknownKey = "unknown_key"
        /// `payload.seq` does not follow the previous event's seq by exactly 1.
        case seqGap = "seq_gap"
        /// Two events name the same `previous_hash`.
        case fork
        /// An agent used the same nonce twice (a replayed event).
        case duplicateNonce = "duplicate_nonce"
        /// An event that is not a well-formed AISS-1.0 event.
        case malformedEvent = "malformed_event"
        /// The first event's `previous_hash` is not SHA-256 of the signer's public key.
        case genesisMismatch = "genesis_mismatch"
        /// An event's timestamp is earlier than the previous event's.
        case timestampRegression = "timestamp_regression"
        /// A bundle's `chain_integrity_hash` is not the hash of its events.
        case chainIntegrityMismatch = "chain_integrity_mismatch"
        /// A bundle's identity document whose agent_id does not derive from its public key.
        case invalidIdentity = "invalid_identity"
        /// Keel's export that does not end with its signed export checkpoint (``ExportSeal``):
        /// events may have been cut from its end.
        case unsealedExport = "unsealed_export"
    }

    /// The event's position in the list that was verified (0-based, counted from the chain's
    /// start when verification resumed from a ``Checkpoint``). A break about a whole bundle
    /// (``Kind/chainIntegrityMismatch``, ``Kind/unsealedExport``) sits just past the last event: the event count.
    public var index: Int
    /// The event's `payload.seq`, when it has one.
    public var seq: Int64?
    /// What kind of problem.
    public var kind: Kind
    /// What a valid chain has here.
    public var expected: String
    /// What this chain has here.
    public var found: String
    /// One sentence for a person.
    public var message: String

    /// A break from its parts.
    public init(index: Int, seq: Int64?, kind: Kind, expected: String, found: String, message: String) {
        self.index = index
        self.seq = seq
        self.kind = kind
        self.expected = expected
        self.found = found
        self.message = message
    }

    /// `#index (seq n) kind: message`.
    public var description: String {
        "#\(index)\(seq.map { " (seq \($0))" } ?? "") \(kind.rawValue): \(message)"
    }
}

/// The outcome of verifying a chain (or part of one).
public struct ChainReport: Sendable, Hashable {
    /// Every problem found, in chain order.
    public var breaks: [ChainBreak]
    /// How many events were examined.
    public var eventCount: Int
    /// The position of the last event examined, to resume from next time (nil for no events).
    /// Its ``Checkpoint/key`` is the key authorised after the last event.
    public var head: Checkpoint?

    /// A report from its parts.
    public init(breaks: [ChainBreak], eventCount: Int, head: Checkpoint?) {
        self.breaks = breaks
        self.eventCount = eventCount
        self.head = head
    }

    /// True when no problem was found.
    public var isValid: Bool { breaks.isEmpty }
}
