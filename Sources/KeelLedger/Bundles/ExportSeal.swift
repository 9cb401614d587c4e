/// The signed end of a Keel export: a `checkpoint` stamp with `"scope": "export"` whose `size` is
/// the number of events before it and whose `head_hash` is the hash of the last of them.
///
/// The `chain_integrity_hash` of an AISS-1.0-AUDIT bundle is unkeyed: anyone who cuts events off
/// the end of a bundle can recompute it. The seal puts the export's size under Keel's signature:
/// a Keel export cut anywhere (or emptied) no longer ends with it. A periodic checkpoint records
/// a size too, but it does not say the export ends there, hence the scope.
///
/// ```swift
/// switch ExportSeal.verdict(events: bundle.events, metadata: bundle.metadata, sealRequired: nil) {
/// case .sealed(let seal): print("sealed at seq \(seal.seq ?? 0): \(seal.size) events before it")
/// case .unsealed(let brk): print(brk)                 // Keel's export, cut
/// case .unsealedForeign(let warning): print(warning)  // another implementation's bundle
/// }
/// ```
public struct ExportSeal: Sendable, Hashable {
    /// The `scope` member that marks a checkpoint as the end of an export.
    public static let scope = "export"

    /// The seal's position in the bundle (0-based).
    public var index: Int
    /// The seal's `payload.seq`.
    public var seq: Int64?
    /// The number of events before the seal, as it signed.
    public var size: Int64
    /// The hash of the event before it, as it signed.
    public var headHash: String

    /// A seal from its parts.
    public init(index: Int, seq: Int64?, size: Int64, headHash: String) {
        self.index = index
        self.seq = seq
        self.size = size
        self.headHash = headHash
    }

    /// The seal `payload` records at `index`; nil when it is not a checkpoint scoped to an export.
    public init?(payload: JSONObject, at index: Int) {
        guard case .string(let scope)? = payload["scope"], scope == Self.scope, let record = Checkpoint.Record(payload: payload) else {
            return nil
        }
        self.init(index: index, seq: payload["seq"]?.integerValue, size: record.size, headHash: record.headHash)
    }

    /// The payload of a seal stamp: a checkpoint (see ``Checkpoint/payload(seq:size:headHash:)``)
    /// that also says it ends an export.
    public static func payload(seq: Int64, size: Int64, headHash: String) -> JSONObject {
        var payload = Checkpoint.payload(seq: seq, size: size, headHash: headHash)
        payload["scope"] = .string(scope)
        return payload
    }

    // MARK: the decision

    /// Whose bundle it is, as far as the seal is concerned.
    public enum Provenance: Sendable, Hashable {
        /// Keel's export: it must end with its seal. `reason` says why it counts as Keel's.
        case keel(reason: String)
        /// Another implementation's bundle: without a seal, a cut tail cannot be detected.
        case foreign
    }

    /// Whether a bundle is Keel's export: the caller says so (`sealRequired`), or its
    /// `metadata.exporter` is `"keel"`, or every event's payload follows Keel's payload rules
    /// (``Stamper/validate(payload:)``: a string `event_type`, an integer `seq`, ...).
    ///
    /// Metadata is not signed, so a forger can rename the exporter; payloads are signed, so a cut
    /// Keel export keeps Keel's payloads. A bundle with no events counts as Keel's: it shows
    /// nothing of whose it is, and Keel's exports always hold at least their seal.
    public static func provenance(metadata: JSONValue?, events: [JSONValue], sealRequired: Bool?) -> Provenance {
        if let sealRequired {
            return sealRequired ? .keel(reason: "it is verified as this project's own chain, from its genesis key") : .foreign
        }
        if case .string(let exporter)? = metadata?["exporter"], exporter == "keel" {
            return .keel(reason: "its metadata.exporter is \"keel\"")
        }
        if events.isEmpty {
            return .keel(reason: "it has no events, and a Keel export always holds its seal")
        }
        let keelShaped = events.allSatisfy { event in
            guard case .object(let payload)? = event["payload"] else { return false }
            return (try? Stamper.validate(payload: payload)) != nil
        }
        return keelShaped ? .keel(reason: "every event's payload follows Keel's payload rules") : .foreign
    }

    /// The outcome for a bundle's seal.
    public enum Verdict: Sendable, Hashable {
        /// The last event is the seal and its size is the number of events before it. (Its
        /// signature, key, link and head hash are the chain verifier's to check.)
        case sealed(ExportSeal)
        /// Keel's export without its seal: a break (``ChainBreak/Kind/unsealedExport``).
        case unsealed(ChainBreak)
        /// Another implementation's bundle without a seal: valid as far as it goes, with this warning.
        case unsealedForeign(warning: String)
    }

    /// Decides whether `events` end with their seal and what it means if they do not. Pure: the
    /// events are read, not verified (see ``Provenance`` and ``provenance(metadata:events:sealRequired:)``).
    public static func verdict(events: [JSONValue], metadata: JSONValue?, sealRequired: Bool?) -> Verdict {
        let last = events.indices.last
        let seal = last.flatMap { index in events[index]["payload"]?.objectValue.flatMap { ExportSeal(payload: $0, at: index) } }
        if let seal, seal.size == Int64(seal.index) {
            return .sealed(seal)
        }
        switch provenance(metadata: metadata, events: events, sealRequired: sealRequired) {
        case .foreign:
            return .unsealedForeign(
                warning:
                    "this bundle does not end with a signed export checkpoint (it is not Keel's export): events cut from its end cannot be detected"
            )
        case .keel(let reason):
            let expected = "a last event that is a checkpoint with scope \"export\" and size \(max(events.count - 1, 0))"
            let found: String
            let message: String
            if let seal {
                found = "an export checkpoint with size \(seal.size) at position \(seal.index)"
                message =
                    "the export's signed checkpoint records \(seal.size) events before it, but \(seal.index) precede it: events were removed or inserted"
            } else if let last {
                let type = events[last]["payload"]?["event_type"]?.stringValue.map { "a \($0) event" } ?? "an event"
                found = "\(type) at position \(last)"
                message =
                    "the export does not end with its signed checkpoint, so it may have been cut: events at its end may be missing (Keel's export: \(reason))"
            } else {
                found = "no events"
                message =
                    "the export has no events, not even its signed checkpoint, so it may have been cut to nothing (Keel's export: \(reason))"
            }
            return .unsealed(ChainBreak(index: events.count, seq: nil, kind: .unsealedExport, expected: expected, found: found, message: message))
        }
    }
}
