public import Foundation
public import KeelLedger

/// How the store stamps its ledger: who signs, and how often it writes checkpoints.
public struct LedgerSettings: Sendable {
    public var signer: SigningIdentity
    /// The key the chain starts with, kept outside the database (next to the signing key, or
    /// `ledger.public_key`): every verification starts from it, and a rotation counts only when
    /// the key trusted at its point of the chain signed it.
    public var genesis: AgentKey
    /// A checkpoint after this many events...
    public var checkpointEvery: Int64
    /// ...or when the last one is older than this.
    public var checkpointSeconds: TimeInterval
    /// How long a person has to decide on a break.
    public var decisionWindow: TimeInterval

    /// Settings for `signer`; `genesis` nil means the chain starts with `signer`'s own key.
    public init(
        signer: SigningIdentity, genesis: AgentKey? = nil, checkpointEvery: Int64 = 1000, checkpointSeconds: TimeInterval = 3600,
        decisionWindow: TimeInterval = 72 * 3600
    ) {
        self.signer = signer
        self.genesis = genesis ?? signer.key
        self.checkpointEvery = max(1, checkpointEvery)
        self.checkpointSeconds = max(1, checkpointSeconds)
        self.decisionWindow = decisionWindow
    }
}

/// One row of `ledger_events`.
public struct LedgerEventRecord: Sendable, Equatable {
    public var seq: Int64
    /// The exact AISS-1.0 event text.
    public var event: String
    public var hash: String
    public var kind: String
    public var subject: String?
    public var at: Date

    public init(seq: Int64, event: String, hash: String, kind: String, subject: String?, at: Date) {
        self.seq = seq
        self.event = event
        self.hash = hash
        self.kind = kind
        self.subject = subject
        self.at = at
    }
}

/// One row of `ledger_breaks`: a break, its evidence, and what a person decided.
public struct LedgerBreakRecord: Sendable, Equatable, Codable {
    public var id: Int64
    /// The ledger position where the break is (nil for a break of the whole store, such as truncation).
    public var seq: Int64?
    public var kind: String
    public var expected: String
    public var found: String
    public var message: String
    public var detectedAt: Date
    public var deadline: Date
    /// The seq of its `chain_break_detected` stamp.
    public var detectionSeq: Int64?
    public var decision: String?
    public var decidedBy: String?
    public var decidedAt: Date?
    public var note: String?
    public var resolutionSeq: Int64?
    public var timeoutSeq: Int64?
    public var alertedAt: Date?
    /// ``BreakEvidence`` of the event at `seq` as it was when the break was found (nil when no
    /// event was there): the bytes a decision on this break covers.
    public var evidence: String?

    enum CodingKeys: String, CodingKey {
        case id, seq, kind, expected, found, message, deadline, decision, note, evidence
        case detectedAt = "detected_at"
        case detectionSeq = "detection_seq"
        case decidedBy = "decided_by"
        case decidedAt = "decided_at"
        case resolutionSeq = "resolution_seq"
        case timeoutSeq = "timeout_seq"
        case alertedAt = "alerted_at"
    }
}

extension LedgerBreakRecord {
    /// Whether `found` is this break found again: the same problem in the same bytes. A break
    /// found in an event that changed since is another break, however alike the two look.
    public func matches(_ found: DetectedBreak) -> Bool {
        kind == found.kind && seq == found.seq && expected == found.expected && self.found == found.found && evidence == found.evidence
    }
}

/// A break found by a verifier, to record (once) and stamp.
public struct DetectedBreak: Sendable, Equatable {
    public var seq: Int64?
    public var kind: String
    public var expected: String
    public var found: String
    public var message: String
    /// ``BreakEvidence`` of the event at `seq` as found (nil when no event is there); the store
    /// fills it in when the verifier did not.
    public var evidence: String?

    public init(seq: Int64?, kind: String, expected: String, found: String, message: String, evidence: String? = nil) {
        self.seq = seq
        self.kind = kind
        self.expected = expected
        self.found = found
        self.message = message
        self.evidence = evidence
    }

    /// The same break found again in the same bytes (at startup, by `keel ledger verify`) is not
    /// a new break; the same problem in an event edited since is.
    var fingerprint: String { Self.fingerprint(kind: kind, seq: seq, expected: expected, found: found, evidence: evidence) }

    /// What makes a break the same break: what, where, expected, found, and the bytes it was found in.
    static func fingerprint(kind: String, seq: Int64?, expected: String, found: String, evidence: String?) -> String {
        "\(kind)|\(seq.map(String.init) ?? "-")|\(expected)|\(found)|\(evidence ?? "-")"
    }
}
