/// A known-good position in a chain, from which verification can resume without re-reading
/// what came before: the event's index and hash, its `seq` and timestamp (so that the next
/// event's seq and time can be checked), and the key authorised for the events after it.
///
/// Keel stamps a `checkpoint` event every N events or M seconds (``payload(seq:size:headHash:)``);
/// at startup it verifies the last checkpoint stamp and everything after it, so startup cost
/// does not grow with the ledger.
///
/// ```swift
/// // the checkpoint stamp at index 5000, already verified once, signed by `key`:
/// let anchor = Checkpoint(trusting: checkpointStamp, at: 5000, signer: key)
/// let report = await verifier.verify(eventsAfter5000, from: anchor)
/// ```
public struct Checkpoint: Sendable, Hashable {
    /// The `event_type` of a checkpoint stamp.
    public static let eventType = "checkpoint"

    /// The position (0-based) of the trusted event in the chain.
    public var index: Int
    /// The trusted event's hash: the next event's expected `previous_hash`.
    public var hash: String
    /// The last `payload.seq` up to and including the trusted event: the next seq must be one more.
    public var seq: Int64?
    /// The last timestamp up to and including the trusted event: the next may not be earlier.
    public var timestamp: Int64?
    /// The key authorised to sign the event after it.
    public var key: AgentKey

    /// A position from its parts.
    public init(index: Int, hash: String, seq: Int64?, timestamp: Int64?, key: AgentKey) {
        self.index = index
        self.hash = hash
        self.seq = seq
        self.timestamp = timestamp
        self.key = key
    }

    /// The position of `stamp`, already verified, at `index`, signed by `signer`. If the stamp
    /// is a key rotation from `signer`, the key after it is the rotation's new key.
    public init(trusting stamp: Stamp, at index: Int, signer: AgentKey) {
        var next = signer
        if stamp.eventType == KeyRotation.eventType, let rotation = try? KeyRotation(payload: stamp.payload), rotation.previous == signer {
            next = rotation.next
        }
        self.init(index: index, hash: stamp.hash, seq: stamp.seq, timestamp: stamp.timestamp, key: next)
    }

    /// The payload of a checkpoint stamp: `size` is the number of events before the checkpoint
    /// stamp and `headHash` the hash of the last of them (the checkpoint's own `previous_hash`).
    public static func payload(seq: Int64, size: Int64, headHash: String) -> JSONObject {
        ["event_type": .string(eventType), "seq": .integer(seq), "size": .integer(size), "head_hash": .string(headHash)]
    }

    /// What a checkpoint stamp records.
    public struct Record: Sendable, Hashable {
        /// The number of events before the checkpoint stamp.
        public var size: Int64
        /// The hash of the last event before it.
        public var headHash: String

        /// Reads a checkpoint payload; nil when `payload` is not a well-formed checkpoint.
        public init?(payload: JSONObject) {
            guard case .string(let type)? = payload["event_type"], type == Checkpoint.eventType,
                case .integer(let size)? = payload["size"],
                case .string(let head)? = payload["head_hash"]
            else { return nil }
            self.size = size
            self.headHash = head
        }
    }
}
