/// Which key may sign which event of a chain, derived from a trust anchor and the chain's own
/// signed key rotations, never from anything a database writer can set alone.
///
/// The chain starts with ``genesis`` (the anchor kept outside the database). A `key_rotation`
/// stamp counts only when the key trusted at its position signed it and it hands over from that
/// key; any other "rotation" (signed by a key the chain never authorised, or handing over from
/// another key) is ignored here and reported as a break by ``ChainVerifier``.
///
/// ```swift
/// let schedule = KeySchedule.build(genesis: anchor, rotations: rotationStamps)   // (seq, stamp) in seq order
/// schedule.key(at: 42)     // the key that must have signed the event at seq 42
/// schedule.current         // the key that signs the next event
/// ```
public struct KeySchedule: Sendable, Hashable {
    /// A rotation that counts: events after `seq` are signed by `key`.
    public struct Handover: Sendable, Hashable {
        /// The seq of the `key_rotation` stamp.
        public var seq: Int64
        /// The key authorised after it.
        public var key: AgentKey
    }

    /// The key the chain starts with (the anchor).
    public let genesis: AgentKey
    /// The rotations that count, in seq order.
    public private(set) var handovers: [Handover]

    /// A schedule with no rotation: `genesis` signs everything.
    public init(genesis: AgentKey) {
        self.genesis = genesis
        self.handovers = []
    }

    /// The schedule of a chain anchored at `genesis`, from its rotation stamps (`seq` is each
    /// stamp's position; pass them in seq order). A rotation that the key trusted at its seq did
    /// not sign, or that hands over from another key, does not count.
    public static func build(genesis: AgentKey, rotations: [(seq: Int64, stamp: Stamp)]) -> KeySchedule {
        var schedule = KeySchedule(genesis: genesis)
        for (seq, stamp) in rotations.sorted(by: { $0.seq < $1.seq }) {
            schedule.accept(stamp, at: seq)
        }
        return schedule
    }

    /// Adds `stamp`, at `seq` (after every handover so far), when it is a rotation that counts.
    /// Returns whether it counted.
    @discardableResult
    public mutating func accept(_ stamp: Stamp, at seq: Int64) -> Bool {
        guard stamp.eventType == KeyRotation.eventType, seq > (handovers.last?.seq ?? 0), stamp.seq == seq else { return false }
        let trusted = key(at: seq)
        guard exactlyEqual(stamp.agentID, trusted.agentID), stamp.isSigned(by: trusted),
            let rotation = try? KeyRotation(payload: stamp.payload), rotation.previous == trusted
        else { return false }
        handovers.append(Handover(seq: seq, key: rotation.next))
        return true
    }

    /// The key that must have signed the event at `seq`.
    public func key(at seq: Int64) -> AgentKey {
        handovers.last(where: { $0.seq < seq })?.key ?? genesis
    }

    /// The key that signs the next event.
    public var current: AgentKey { handovers.last?.key ?? genesis }

    /// Every key the chain has trusted, oldest first.
    public var keys: [AgentKey] { [genesis] + handovers.map(\.key) }
}
