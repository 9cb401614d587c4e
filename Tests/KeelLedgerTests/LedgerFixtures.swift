import Foundation
import KeelLedger

/// A start time for test chains (2026-09-21).
let testEpoch: Int64 = 1_790_000_000

/// Builds signed chains the way Keel writes them, and tampers with them the way an attacker or
/// a bug would.
struct ChainBuilder {
    var signer: SigningIdentity
    var stamps: [Stamp] = []
    var nextTimestamp: Int64 = testEpoch

    init(signer: SigningIdentity = .generate(createdAt: testEpoch)) {
        self.signer = signer
    }

    var nextSeq: Int64 { (stamps.last?.seq ?? -1) + 1 }

    /// Appends one Keel-style event (integer payload numbers, ASCII names).
    @discardableResult
    mutating func append(_ eventType: String = "state_transition", extra: JSONObject = [:], signer override: SigningIdentity? = nil) throws -> Stamp {
        let seq = nextSeq
        var payload: JSONObject = [
            "event_type": .string(eventType),
            "seq": .integer(seq),
            "item": .integer(seq % 7),
            "note": .string("step-\(seq)"),
            "cost_micros": .integer(1_250 * seq),
        ]
        for (key, value) in extra { payload[key] = value }
        let signer = override ?? self.signer
        let stamp: Stamp
        if let head = stamps.last {
            stamp = try Stamper.stamp(payload: payload, previousHash: head.hash, signer: signer, timestamp: nextTimestamp, nonce: UUID())
        } else {
            stamp = try Stamper.stampGenesis(payload: payload, signer: signer, timestamp: nextTimestamp, nonce: UUID())
        }
        stamps.append(stamp)
        nextTimestamp += 1
        return stamp
    }

    /// Appends the checkpoint that seals an export of everything before it, as `keel ledger export` stamps it.
    @discardableResult
    mutating func appendSeal() throws -> Stamp {
        let seq = nextSeq
        let payload = ExportSeal.payload(seq: seq, size: Int64(stamps.count), headHash: stamps.last?.hash ?? signer.key.genesisHash)
        let stamp = try Stamper.stamp(
            payload: payload, previousHash: stamps.last?.hash ?? signer.key.genesisHash, signer: signer, timestamp: nextTimestamp, nonce: UUID())
        stamps.append(stamp)
        nextTimestamp += 1
        return stamp
    }

    /// A chain of `count` events.
    static func chain(_ count: Int, signer: SigningIdentity = .generate(createdAt: testEpoch)) throws -> ChainBuilder {
        var builder = ChainBuilder(signer: signer)
        for _ in 0..<count { try builder.append() }
        return builder
    }

    var events: [JSONValue] { stamps.map(\.json) }
}

/// Flips the lowest bit of the first byte of `needle` inside the event's text (a one-byte
/// edit that keeps the JSON valid) and parses the result.
func flipByte(in event: JSONValue, of needle: String) throws -> JSONValue {
    var bytes = Array(try CanonicalJSON.encode(event))
    let pattern = Array(needle.utf8)
    guard let start = (0...(bytes.count - pattern.count)).first(where: { Array(bytes[$0..<($0 + pattern.count)]) == pattern }) else {
        throw FixtureError("\(needle) is not in the event")
    }
    bytes[start] ^= 0x01
    return try JSONValue.parse(bytes)
}

/// Re-signs `event` with `signer`, optionally changing its members first.
func resign(_ event: JSONValue, with signer: SigningIdentity, change: (inout JSONObject) -> Void = { _ in }) throws -> JSONValue {
    guard case .object(var members) = event else { throw FixtureError("not an object") }
    change(&members)
    members["signature"] = nil
    let signature = try signer.signature(for: try CanonicalJSON.encode(.object(members)))
    members["signature"] = .string(Data(signature).base64EncodedString())
    return .object(members)
}

/// The breaks as (index, kind) pairs, for exact comparisons.
func shape(_ breaks: [ChainBreak]) -> [Pair] {
    breaks.map { Pair(index: $0.index, kind: $0.kind) }
}

struct Pair: Hashable, CustomStringConvertible {
    var index: Int
    var kind: ChainBreak.Kind
    var description: String { "\(index):\(kind.rawValue)" }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == UInt8 {
    var utf8String: String { String(decoding: self, as: UTF8.self) }
}
