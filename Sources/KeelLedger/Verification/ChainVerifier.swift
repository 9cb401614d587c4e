import Foundation

/// Verifies an ordered list of AISS-1.0 events and reports every problem it finds, not just
/// the first (see ``ChainBreak/Kind``).
///
/// Keys: the chain starts with one identity's key. With a pinned key (one the caller trusts,
/// such as `--public-key`), the chain must start with that key instead: a bundle whose
/// identity is another key gets an `unknown_key` break at index 0, and so does every event that
/// key signed. A `key_rotation` event signed by the current key authorises its new key for
/// the events after it; an event signed under any other agent_id is `unknown_key`.
///
/// Keel's own rule, contiguous `payload.seq`, applies only to events that carry an integer seq.
///
/// A full verify uses every core: hashes and signatures are computed for chunks of the list in
/// a task group, then one cheap pass in order checks linkage, keys, seq, time, forks and
/// nonces. ``verify(_:from:)`` resumes after a known ``Checkpoint`` and
/// ``verifyAppend(previous:next:at:signer:)`` checks one new event against the head in O(1).
///
/// ```swift
/// let verifier = ChainVerifier(identity: try bundle.identity.agentKey(), pinned: pinnedKey)
/// let report = await verifier.verify(bundle.events)
/// if !report.isValid { for brk in report.breaks { print(brk) } }
/// ```
public struct ChainVerifier: Sendable {
    /// What to check and how hard to work.
    public struct Options: Sendable, Hashable {
        /// The first event must link to SHA-256 of the starting key (AISS §9.3). Turn off for a
        /// slice of a chain (aiss `export_subset`) that does not start at its genesis.
        public var requireGenesis: Bool
        /// Timestamps must not go backwards (aiss checks this too).
        public var checkTimestamps: Bool
        /// How many cores to keep busy; defaults to every active core.
        public var parallelism: Int

        /// Options with every check on; `parallelism` nil means every active core.
        public init(requireGenesis: Bool = true, checkTimestamps: Bool = true, parallelism: Int? = nil) {
            self.requireGenesis = requireGenesis
            self.checkTimestamps = checkTimestamps
            self.parallelism = max(1, parallelism ?? ProcessInfo.processInfo.activeProcessorCount)
        }
    }

    /// The key the chain claims to start with (the identity document's key).
    public let identity: AgentKey
    /// The key the caller trusts, if any; verification starts from it instead of ``identity``.
    public let pinned: AgentKey?
    /// What to check.
    public var options: Options

    /// A verifier for chains that start with `identity`'s key, optionally pinned to `pinned`.
    public init(identity: AgentKey, pinned: AgentKey? = nil, options: Options = Options()) {
        self.identity = identity
        self.pinned = pinned
        self.options = options
    }

    // MARK: full verification

    /// Verifies a whole chain, in parallel.
    public func verify(_ events: [JSONValue]) async -> ChainReport {
        await run(EventSource(events), start: chainStart(), parallel: true)
    }

    /// Verifies a whole chain of stamps, in parallel.
    public func verify(_ stamps: [Stamp]) async -> ChainReport {
        await run(EventSource(stamps), start: chainStart(), parallel: true)
    }

    /// Verifies a whole chain from the events' JSON texts (as stored), parsing them in parallel;
    /// a text that does not parse is a `malformed_event`.
    public func verify(texts: [String]) async -> ChainReport {
        await run(EventSource(texts: texts), start: chainStart(), parallel: true)
    }

    /// Verifies a whole chain on the calling thread (the reference the parallel pass must match).
    public func verifySequentially(_ events: [JSONValue]) -> ChainReport {
        let start = chainStart()
        return link(sequentialDigests(EventSource(events), keys: keyRing(for: start)), start: start)
    }

    // MARK: incremental verification

    /// Verifies only the events after `checkpoint`: `events[0]` is the event at
    /// `checkpoint.index + 1`. Break indices count from the chain's start.
    ///
    /// Forks and repeated nonces are found among these events only: the events before the
    /// checkpoint are trusted, not re-read.
    public func verify(_ events: [JSONValue], from checkpoint: Checkpoint) async -> ChainReport {
        resumed(await run(EventSource(events), start: resumeStart(checkpoint), parallel: true), from: checkpoint)
    }

    /// Verifies only the events after `checkpoint`, from their JSON texts.
    public func verify(texts: [String], from checkpoint: Checkpoint) async -> ChainReport {
        resumed(await run(EventSource(texts: texts), start: resumeStart(checkpoint), parallel: true), from: checkpoint)
    }

    /// With nothing after the checkpoint, the head is the checkpoint itself.
    func resumed(_ report: ChainReport, from checkpoint: Checkpoint) -> ChainReport {
        var report = report
        if report.eventCount == 0 { report.head = checkpoint }
        return report
    }

    /// Checks that `next` may follow `previous` (at `index`) in O(1): `previous_hash`, seq,
    /// timestamp, nonce and, when `signer` is given, that `next` is signed by it.
    ///
    /// `signer` is the key authorised after `previous`: the same key, or the new key when
    /// `previous` is a key rotation.
    public static func verifyAppend(previous: Stamp, next: Stamp, at index: Int, signer: AgentKey? = nil) -> [ChainBreak] {
        var breaks: [ChainBreak] = []
        func add(_ kind: ChainBreak.Kind, _ expected: String, _ found: String, _ message: String) {
            breaks.append(ChainBreak(index: index, seq: next.seq, kind: kind, expected: expected, found: found, message: message))
        }
        if !exactlyEqual(next.previousHash, previous.hash) {
            add(
                .hashMismatch, previous.hash, next.previousHash,
                "previous_hash is not the hash of the head event: the head moved or the event was made for another chain")
        }
        if let previousSeq = previous.seq, let seq = next.seq, seq != previousSeq &+ 1 {
            add(.seqGap, String(previousSeq &+ 1), String(seq), "seq \(seq) does not follow the head's seq \(previousSeq)")
        }
        if next.timestamp < previous.timestamp {
            add(
                .timestampRegression, "≥ \(previous.timestamp)", String(next.timestamp),
                "the timestamp goes back \(previous.timestamp - next.timestamp) s from the head's")
        }
        if exactlyEqual(next.nonce, previous.nonce), exactlyEqual(next.agentID, previous.agentID) {
            add(.duplicateNonce, "a fresh nonce", next.nonce, "the nonce repeats the head's: a replayed event")
        }
        if let signer { breaks += signatureBreaks(next, signer: signer, index: index) }
        return breaks
    }

    /// Checks that `first` may start a chain signed by `signer`: its `previous_hash` is
    /// SHA-256 of the key and `signer` signed it.
    public static func verifyGenesis(_ first: Stamp, signer: AgentKey) -> [ChainBreak] {
        var breaks: [ChainBreak] = []
        if !exactlyEqual(first.previousHash, signer.genesisHash) {
            breaks.append(
                ChainBreak(
                    index: 0, seq: first.seq, kind: .genesisMismatch, expected: signer.genesisHash, found: first.previousHash,
                    message: "the first event's previous_hash is not SHA-256 of the signer's public key"
                )
            )
        }
        return breaks + signatureBreaks(first, signer: signer, index: 0)
    }

    static func signatureBreaks(_ stamp: Stamp, signer: AgentKey, index: Int) -> [ChainBreak] {
        if !exactlyEqual(stamp.agentID, signer.agentID) {
            return [
                ChainBreak(
                    index: index, seq: stamp.seq, kind: .unknownKey, expected: signer.agentID, found: stamp.agentID,
                    message: "the event names agent \(stamp.agentID), not the authorised key \(signer.agentID)"
                )
            ]
        }
        if !stamp.isSigned(by: signer) {
            return [
                ChainBreak(
                    index: index, seq: stamp.seq, kind: .badSignature, expected: "a valid Ed25519 signature by \(signer.agentID)",
                    found: stamp.signature, message: "the signature does not verify: the event was changed after it was signed"
                )
            ]
        }
        return []
    }

    // MARK: the two passes

    struct Start {
        var key: AgentKey
        var expectedPrevious: String?
        var isGenesis: Bool
        var seq: Int64?
        var timestamp: Int64?
        var indexOffset: Int
        var breaks: [ChainBreak]
        var extraKeys: [AgentKey]
    }

    func chainStart() -> Start {
        let key = pinned ?? identity
        var breaks: [ChainBreak] = []
        if let pinned, pinned != identity {
            breaks.append(
                ChainBreak(
                    index: 0, seq: nil, kind: .unknownKey, expected: pinned.agentID, found: identity.agentID,
                    message: "identity mismatch: the chain's identity is \(identity.agentID), not the pinned key \(pinned.agentID)"
                )
            )
        }
        return Start(
            key: key, expectedPrevious: options.requireGenesis ? key.genesisHash : nil, isGenesis: options.requireGenesis,
            seq: nil, timestamp: nil, indexOffset: 0, breaks: breaks, extraKeys: [identity]
        )
    }

    func resumeStart(_ checkpoint: Checkpoint) -> Start {
        Start(
            key: checkpoint.key, expectedPrevious: checkpoint.hash, isGenesis: false, seq: checkpoint.seq,
            timestamp: checkpoint.timestamp, indexOffset: checkpoint.index + 1, breaks: [], extraKeys: [identity]
        )
    }

    func keyRing(for start: Start) -> [String: AgentKey] {
        var keys: [String: AgentKey] = [:]
        for key in [identity, start.key] + [pinned].compactMap({ $0 }) + start.extraKeys {
            keys[key.agentID] = key
        }
        return keys
    }

    func run(_ source: EventSource, start: Start, parallel: Bool) async -> ChainReport {
        link(await digests(source, start: start, parallel: parallel), start: start)
    }

    /// The expensive pass: every event's fields, hash and signature check.
    func digests(_ source: EventSource, start: Start, parallel: Bool) async -> [EventDigest] {
        let keys = keyRing(for: start)
        if parallel, options.parallelism > 1, source.count > 64 {
            return await parallelDigests(source, keys: keys)
        }
        return sequentialDigests(source, keys: keys)
    }

    /// Sequential digests, with a second look at events signed by keys that rotations introduce.
    func sequentialDigests(_ source: EventSource, keys: [String: AgentKey]) -> [EventDigest] {
        var digests = (0..<source.count).map { EventDigest(source.load($0), keys: keys) }
        let (allKeys, pending) = Self.rotationKeys(digests, known: keys)
        for index in pending {
            digests[index] = EventDigest(source.load(index), keys: allKeys)
        }
        return digests
    }

    func parallelDigests(_ source: EventSource, keys: [String: AgentKey]) async -> [EventDigest] {
        var digests = await Self.inParallel(Array(0..<source.count), parallelism: options.parallelism) { index in
            EventDigest(source.load(index), keys: keys)
        }
        let (allKeys, pending) = Self.rotationKeys(digests, known: keys)
        if !pending.isEmpty {
            let again = await Self.inParallel(pending, parallelism: options.parallelism) { index in
                EventDigest(source.load(index), keys: allKeys)
            }
            for (offset, index) in pending.enumerated() { digests[index] = again[offset] }
        }
        return digests
    }

    /// Keys that rotation events introduce, and the events whose signer only they can check.
    static func rotationKeys(_ digests: [EventDigest], known: [String: AgentKey]) -> ([String: AgentKey], [Int]) {
        var keys = known
        for digest in digests {
            guard let rotation = digest.rotation else { continue }
            keys[rotation.previous.agentID] = rotation.previous
            keys[rotation.next.agentID] = rotation.next
        }
        guard keys.count > known.count else { return (known, []) }
        let pending = digests.indices.filter { index in
            guard case .noKey = digests[index].signature, let agent = digests[index].agentID else { return false }
            return keys[agent] != nil
        }
        return (keys, pending)
    }

    /// Maps `indices` through `body` in contiguous chunks, one task per chunk.
    static func inParallel(_ indices: [Int], parallelism: Int, _ body: @escaping @Sendable (Int) -> EventDigest) async -> [EventDigest] {
        let chunkCount = min(indices.count, parallelism * 4)
        guard chunkCount > 1 else { return indices.map(body) }
        let chunkSize = (indices.count + chunkCount - 1) / chunkCount
        return await withTaskGroup(of: (Int, [EventDigest]).self) { group in
            for chunk in 0..<chunkCount {
                let lower = chunk * chunkSize
                let upper = min(indices.count, lower + chunkSize)
                guard lower < upper else { continue }
                let slice = Array(indices[lower..<upper])
                group.addTask { (chunk, slice.map(body)) }
            }
            var chunks = [[EventDigest]](repeating: [], count: chunkCount)
            for await (chunk, digests) in group { chunks[chunk] = digests }
            return chunks.flatMap { $0 }
        }
    }

    /// The cheap pass, in order: linkage, keys and rotations, checkpoints, seq, time, forks, nonces.
    func link(_ digests: [EventDigest], start: Start) -> ChainReport {
        var breaks = start.breaks
        var current = start.key
        var expectedLink: (hash: String, digest: EventDigest?)? = start.expectedPrevious.map { ($0, nil) }
        var lastSeq = start.seq
        var lastTimestamp = start.timestamp
        var firstWithPrevious: [JSONKey: Int] = [:]
        var nonces: [JSONKey: Int] = [:]
        var headHash: String?

        for (offset, digest) in digests.enumerated() {
            let index = start.indexOffset + offset
            func add(_ kind: ChainBreak.Kind, _ expected: String, _ found: String, _ message: String) {
                breaks.append(ChainBreak(index: index, seq: digest.seq, kind: kind, expected: expected, found: found, message: message))
            }
            if !digest.problems.isEmpty {
                add(
                    .malformedEvent, "a well-formed AISS-1.0 event", digest.problems.joined(separator: "; "),
                    "malformed event: \(digest.problems.joined(separator: "; "))")
            }
            guard digest.isObject else {
                expectedLink = nil  // nothing to hash: the next event's link cannot be checked
                headHash = nil
                continue
            }

            // Linkage.
            if let link = expectedLink {
                let isGenesis = offset == 0 && start.isGenesis
                let kind: ChainBreak.Kind = isGenesis ? .genesisMismatch : .hashMismatch
                let what = isGenesis ? "SHA-256 of the public key of \(current.agentID)" : "the hash of the event before it (position \(index - 1), counting from 0)"
                switch digest.previousHash {
                case .value(let found):
                    let matches = link.digest.map { $0.isHash(found) } ?? exactlyEqual(link.hash, found)
                    if !matches {
                        add(kind, link.hash, found, "previous_hash is not \(what): an event was changed, removed, inserted or reordered here")
                    }
                case .null:
                    add(kind, link.hash, "null", "previous_hash is null, not \(what)")
                case .missing, .wrongType:
                    break  // reported as malformed
                }
            }

            // Keys and signatures.
            if let agent = digest.agentID {
                if !exactlyEqual(agent, current.agentID) {
                    let how: String
                    switch digest.signature {
                    case .valid: how = "a key that is not authorised at this point (its signature verifies, but no rotation hands over to it here)"
                    case .noKey: how = "a key this chain never introduces"
                    default: how = "a key that is not authorised at this point"
                    }
                    add(.unknownKey, current.agentID, agent, "signed under agent \(agent), \(how); the authorised key is \(current.agentID)")
                } else {
                    switch digest.signature {
                    case .valid, .absent, .noKey:
                        break
                    case .invalid:
                        add(
                            .badSignature, "a valid Ed25519 signature by \(agent)", "a signature that does not verify",
                            "the signature does not verify: the event was changed after it was signed, or signed by another key")
                    case .undecodable:
                        add(
                            .badSignature, "the canonical base64 of 64 bytes", "a signature that is not canonical base64",
                            "the signature is not canonical base64 of 64 bytes (`=` padding, no whitespace, unused bits zero): its text was changed after signing or written by a non-AISS encoder")
                    }
                    if case .valid = digest.signature, digest.eventType == KeyRotation.eventType {
                        if let rotation = digest.rotation {
                            if rotation.previous == current {
                                current = rotation.next
                            } else {
                                add(
                                    .unknownKey, current.agentID, rotation.previous.agentID,
                                    "the key_rotation hands over from \(rotation.previous.agentID), which is not the key that signed it")
                            }
                        } else {
                            add(
                                .malformedEvent, "a key_rotation payload as AISS §12 writes it", digest.rotationProblem ?? "unreadable",
                                "malformed key rotation: \(digest.rotationProblem ?? "unreadable")")
                        }
                    }
                }
            }

            // A checkpoint records the chain's size and head at the time it was stamped.
            if let record = digest.checkpoint {
                if case .value(let previous) = digest.previousHash, !exactlyEqual(previous, record.headHash) {
                    add(.hashMismatch, previous, record.headHash, "the checkpoint's head_hash is not its own previous_hash")
                }
                if start.isGenesis || start.indexOffset > 0, record.size != Int64(index) {
                    add(
                        .seqGap, String(index), String(record.size),
                        "the checkpoint records \(record.size) events before it but sits at position \(index): events were removed or inserted before it"
                    )
                }
            }

            // Keel's rule: seq goes up by exactly 1 where it exists.
            if let seq = digest.seq {
                if let previous = lastSeq, seq != previous &+ 1 {
                    add(
                        .seqGap, String(previous &+ 1), String(seq),
                        "seq \(seq) does not follow \(previous): events are missing, repeated or out of order")
                }
                lastSeq = seq
            }

            if options.checkTimestamps, let timestamp = digest.timestamp {
                if let previous = lastTimestamp, timestamp < previous {
                    add(
                        .timestampRegression, "≥ \(previous)", String(timestamp),
                        "the timestamp goes back \(previous - timestamp) s from the previous event's")
                }
                lastTimestamp = timestamp
            }

            if case .value(let previous) = digest.previousHash, !previous.isEmpty {
                let key = JSONKey(previous)
                if let first = firstWithPrevious[key] {
                    add(
                        .fork, "one event after \(previous)", "events #\(first) and #\(index)",
                        "fork: events #\(first) and #\(index) both follow \(previous.prefix(16))…")
                } else {
                    firstWithPrevious[key] = index
                }
            }

            if let agent = digest.agentID, let nonce = digest.nonce, !nonce.isEmpty {
                let key = JSONKey(agent + "\u{0}" + nonce)
                if let first = nonces[key] {
                    add(
                        .duplicateNonce, "a nonce not used before by \(agent)", nonce,
                        "nonce \(nonce) was already used by event #\(first): a replayed event")
                } else {
                    nonces[key] = index
                }
            }

            expectedLink = digest.hash.map { ($0, digest) }
            headHash = digest.hash
        }

        var head: Checkpoint?
        if let headHash, !digests.isEmpty {
            head = Checkpoint(index: start.indexOffset + digests.count - 1, hash: headHash, seq: lastSeq, timestamp: lastTimestamp, key: current)
        }
        return ChainReport(breaks: breaks, eventCount: digests.count, head: head)
    }
}

/// Events to verify, loaded one at a time so that chunks can parse them in parallel.
struct EventSource: Sendable {
    let count: Int
    let load: @Sendable (Int) -> Result<JSONValue, LedgerError>

    init(_ events: [JSONValue]) {
        count = events.count
        load = { .success(events[$0]) }
    }

    init(_ stamps: [Stamp]) {
        count = stamps.count
        load = { .success(stamps[$0].json) }
    }

    init(texts: [String]) {
        count = texts.count
        load = { EventSource.parse(texts[$0]) }
    }

    static func parse(_ text: String) -> Result<JSONValue, LedgerError> {
        do {
            return .success(try JSONValue.parse(Array(text.utf8)))
        } catch {
            return .failure(LedgerError(.malformedEvent, "the stored text is not valid JSON: \(error.message)", cause: error))
        }
    }
}
