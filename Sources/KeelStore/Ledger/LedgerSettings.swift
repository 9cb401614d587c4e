public import Foundation
public import KeelLedger

/// How the store stamps its ledger: who signs, and how often it writes checkpoints.
public struct LedgerSettings: Sendable {
    public var signer: SigningIdentity
    /// A checkpoint after this many events...
    public var checkpointEvery: Int64
    /// ...or when the last one is older than this.
    public var checkpointSeconds: TimeInterval
    /// How long a person has to decide on a break.
    public var decisionWindow: TimeInterval

    public init(signer: SigningIdentity, checkpointEvery: Int64 = 1000, checkpointSeconds: TimeInterval = 3600, decisionWindow: TimeInterval = 72 * 3600) {
        self.signer = signer
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

    enum CodingKeys: String, CodingKey {
        case id, seq, kind, expected, found, message, deadline, decision, note
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
    /// Whether `found` is this break found again.
    public func matches(_ found: DetectedBreak) -> Bool {
        kind == found.kind && seq == found.seq && expected == found.expected && self.found == found.found
    }
}

/// A break found by a verifier, to record (once) and stamp.
public struct DetectedBreak: Sendable, Equatable {
    public var seq: Int64?
    public var kind: String
    public var expected: String
    public var found: String
    public var message: String

    public init(seq: Int64?, kind: String, expected: String, found: String, message: String) {
        self.seq = seq
        self.kind = kind
        self.expected = expected
        self.found = found
        self.message = message
    }

    /// The same break found again (at startup, by `keel ledger verify`) is not a new break.
    var fingerprint: String { "\(kind)|\(seq.map(String.init) ?? "-")|\(expected)|\(found)" }
}
