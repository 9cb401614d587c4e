import Foundation
import KeelLedger
import KeelStore

/// Where the ledger benchmarks keep what is expensive to make: the 20,000-event audit bundle and
/// the 1,000,000-event SQLite ledger. `KEEL_BENCH_CACHE` or `<temp>/keel-bench-cache`.
///
/// The files are reused as long as they exist (delete the directory to start over), so that every
/// run, and `Benchmarks/aiss/verify_bundle.py`, measures the very same bytes.
enum BenchCache {
    static var directory: URL {
        if let path = ProcessInfo.processInfo.environment["KEEL_BENCH_CACHE"], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        return FileManager.default.temporaryDirectory.appendingPathComponent("keel-bench-cache", isDirectory: true)
    }

    static func path(_ file: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent(file).path
    }
}

/// Progress for the minutes-long fixture builds; on stderr, so that it does not mix with the results.
func benchLog(_ message: String) {
    FileHandle.standardError.write(Data("[keel-bench] \(message)\n".utf8))
}

/// Makes a chain the way `LedgerAppender` writes one: `state_transition` stamps with the fields
/// `SQLiteStore.insertTransition` records, and a `checkpoint` stamp (size and head hash) as soon
/// as `checkpointEvery` events follow the last one, exactly where the store would put it.
///
/// Planning is sequential (each event links to the previous one's hash, which does not depend on
/// the signature); signing, the expensive part, is done in parallel afterwards (``sign(_:)``), and
/// each signed stamp must hash to what was planned.
struct ChainGenerator {
    /// One event, hashed but not yet signed.
    struct Planned: Sendable {
        var seq: Int64
        var payload: JSONObject
        var previousHash: String
        var timestamp: Int64
        var nonce: UUID
        var hash: String
        var kind: String
        var subject: String?
    }

    /// One row of `ledger_events`, as the store writes it.
    struct Row: Sendable {
        var seq: Int64
        var stamp: Stamp
        var kind: String
        var subject: String?
        var at: String
    }

    let signer: SigningIdentity
    let checkpointEvery: Int64
    private(set) var seq: Int64 = 0
    private var previousHash: String
    private var lastCheckpoint: Int64 = 0
    private var transitions: Int64 = 0
    /// Unix seconds of the first event; ten events per second after it.
    let startTime: Int64

    init(signer: SigningIdentity, checkpointEvery: Int64 = 1000, startTime: Int64 = 1_790_000_000) {
        self.signer = signer
        self.checkpointEvery = checkpointEvery
        self.startTime = startTime
        previousHash = signer.key.genesisHash
    }

    /// The life of an item, one transition at a time (the store stamps each).
    static let lifecycle: [(from: String?, to: String, reason: String)] = [
        (nil, "queued", "submitted"),
        ("queued", "planning", "attempt 1: claimed by bench-worker-1"),
        ("planning", "developing", "plan accepted"),
        ("developing", "pushing", "tests pass locally"),
        ("pushing", "awaiting_ci", "pushed keel/item-branch"),
        ("awaiting_ci", "inspecting", "CI green"),
        ("inspecting", "merging", "review approved"),
        ("merging", "merged", "merged into main"),
    ]

    /// Plans the next `count` events.
    mutating func plan(_ count: Int) throws -> [Planned] {
        var planned: [Planned] = []
        planned.reserveCapacity(count)
        for _ in 0..<count {
            let seq = self.seq + 1
            let timestamp = startTime + seq / 10
            var payload: JSONObject
            let kind: String
            var subject: String?
            if seq - 1 - lastCheckpoint >= checkpointEvery {
                payload = Checkpoint.payload(seq: seq, size: seq - 1, headHash: previousHash)
                kind = Checkpoint.eventType
                lastCheckpoint = seq
            } else {
                transitions += 1
                let item = (transitions - 1) / Int64(Self.lifecycle.count) + 1
                let step = Self.lifecycle[Int((transitions - 1) % Int64(Self.lifecycle.count))]
                payload = [
                    "event_type": "state_transition", "seq": .integer(seq),
                    "item_id": .integer(item), "transition_id": .integer(transitions),
                    "from_state": step.from.map(JSONValue.string) ?? .null, "to_state": .string(step.to),
                    "reason": .string(step.reason), "actor": "bench-worker-1", "at": .integer(timestamp),
                ]
                kind = "state_transition"
                subject = "item:\(item)"
            }
            let nonce = UUID()
            // The hash covers everything but the signature, so it is known before signing.
            let unsigned: JSONObject = [
                "version": "AISS-1.0", "agent_id": .string(signer.agentID), "timestamp": .integer(timestamp),
                "nonce": .string(nonce.uuidString.lowercased()), "payload": .object(payload),
                "previous_hash": .string(previousHash), "signature": "",
            ]
            let hash = try Stamp(event: unsigned).hash
            planned.append(
                Planned(
                    seq: seq, payload: payload, previousHash: previousHash, timestamp: timestamp, nonce: nonce, hash: hash, kind: kind,
                    subject: subject))
            previousHash = hash
            self.seq = seq
        }
        return planned
    }

    /// Signs planned events with `Stamper.stamp` on every core; each stamp must hash as planned.
    func sign(_ planned: [Planned]) async throws -> [Row] {
        let signer = self.signer
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let chunkCount = max(1, min(planned.count, cores * 4))
        let chunkSize = (planned.count + chunkCount - 1) / chunkCount
        return try await withThrowingTaskGroup(of: (Int, [Row]).self) { group in
            for chunk in 0..<chunkCount {
                let lower = chunk * chunkSize
                let upper = min(planned.count, lower + chunkSize)
                guard lower < upper else { continue }
                let slice = Array(planned[lower..<upper])
                group.addTask {
                    let rows = try slice.map { event in
                        let stamp = try Stamper.stamp(
                            payload: event.payload, previousHash: event.previousHash, signer: signer, timestamp: event.timestamp,
                            nonce: event.nonce)
                        guard stamp.hash == event.hash else {
                            throw BenchmarkFailure("stamp \(event.seq) hashes to \(stamp.hash), planned \(event.hash)")
                        }
                        return Row(
                            seq: event.seq, stamp: stamp, kind: event.kind, subject: event.subject,
                            at: Timestamp.text(Date(timeIntervalSince1970: TimeInterval(event.timestamp))))
                    }
                    return (chunk, rows)
                }
            }
            var chunks = [[Row]](repeating: [], count: chunkCount)
            for try await (chunk, rows) in group { chunks[chunk] = rows }
            return chunks.flatMap { $0 }
        }
    }

    /// The next `count` events, signed.
    mutating func next(_ count: Int) async throws -> [Row] {
        try await sign(try plan(count))
    }
}

/// The 20,000-event chain every verification benchmark uses, exported as an AISS-1.0-AUDIT bundle
/// (`AuditBundle.export`) and cached as `bundle-20000-v1.json`: the Swift benchmarks and
/// `Benchmarks/aiss/verify_bundle.py` verify the same file.
struct BundleFixture: Sendable {
    static let eventCount = 20_000

    static var path: String {
        get throws { try BenchCache.path("bundle-\(eventCount)-v1.json") }
    }

    /// The bundle's bytes, as written.
    let bytes: [UInt8]
    /// The key the chain is signed with (the bundle's identity).
    let key: AgentKey
    /// The events as Keel stores them (`ledger_events.event`).
    let texts: [String]
    /// Per event, the raw Ed25519 signature and the bytes it signs: what the raw rate verifies.
    let signed: [(signature: [UInt8], message: [UInt8])]

    static func load() async throws -> BundleFixture {
        let path = try Self.path
        if !FileManager.default.fileExists(atPath: path) {
            try await write(to: path)
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let bundle = try AuditBundle.parse(bytes)
        let stamps = try bundle.events.map { event -> Stamp in
            guard case .object(let members) = event else { throw BenchmarkFailure("\(path): an event is not an object") }
            return try Stamp(event: members)
        }
        guard stamps.count == eventCount else {
            throw BenchmarkFailure("\(path) holds \(stamps.count) events, not \(eventCount): delete it to rebuild it")
        }
        let signed = try stamps.map { stamp -> ([UInt8], [UInt8]) in
            guard let raw = Data(base64Encoded: stamp.signature), raw.count == 64 else {
                throw BenchmarkFailure("event \(stamp.seq ?? -1) has no 64-byte base64 signature")
            }
            return (Array(raw), stamp.signedBytes)
        }
        return BundleFixture(bytes: bytes, key: try bundle.identity.agentKey(), texts: stamps.map(\.text), signed: signed)
    }

    static func write(to path: String) async throws {
        let started = ContinuousClock.now
        let signer = SigningIdentity.generate(createdAt: 1_790_000_000)
        var generator = ChainGenerator(signer: signer)
        let rows = try await generator.next(eventCount)
        let bytes = try AuditBundle.export(identity: signer.document, events: rows.map(\.stamp), exportedAt: 1_790_010_000)
        let temporary = path + ".partial"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
        benchLog("wrote \(path) (\(eventCount) events, \(bytes.count) bytes) in \(ContinuousClock.now - started)")
    }
}
