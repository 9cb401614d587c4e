/// An AISS-1.0-AUDIT export (AISS §22): an identity, its events, and an unkeyed integrity hash
/// over them.
///
/// ```json
/// {"spec": "AISS-1.0-AUDIT", "agent_identity": {...}, "events": [...],
///  "chain_integrity_hash": "<hex>", "exported_at": 1790000000, "metadata": {...}}
/// ```
///
/// `chain_integrity_hash` is aiss `compute_chain_hash`: SHA-256 over the concatenated hex
/// hashes of the events, as UTF-8. Anyone can recompute it, so Keel's exports end with a signed
/// ``ExportSeal`` (a checkpoint of the exported range) and verification requires it of Keel's
/// exports. Keel's exports are accepted by aiss's `verify_chain` and `validate_audit_export`;
/// Keel verifies exports that aiss writes.
///
/// ```swift
/// let bytes = try AuditBundle.export(identity: identity.document, events: stamps, exportedAt: now)
/// let report = try await AuditBundle.parse(bytes).verify(pinnedKey: trustedKeyBase64)
/// print(report.isValid ? "valid" : report.breaks.map(\.description).joined(separator: "\n"))
/// ```
public struct AuditBundle: Sendable {
    /// The `spec` value of AISS-1.0 audit exports.
    public static let specification = "AISS-1.0-AUDIT"

    /// `"AISS-1.0-AUDIT"`.
    public var spec: String
    /// The identity the chain starts with (for a rotated chain, the first key).
    public var identity: IdentityDocument
    /// The events, in order, as they appear in the document (not checked until ``verify(pinned:options:)``).
    public var events: [JSONValue]
    /// The seal the document declares.
    public var chainIntegrityHash: String
    /// When the export was written, Unix seconds.
    public var exportedAt: Int64
    /// Free-form export metadata, when present.
    public var metadata: JSONValue?

    /// A bundle from its parts.
    public init(
        spec: String = AuditBundle.specification, identity: IdentityDocument, events: [JSONValue], chainIntegrityHash: String, exportedAt: Int64,
        metadata: JSONValue? = nil
    ) {
        self.spec = spec
        self.identity = identity
        self.events = events
        self.chainIntegrityHash = chainIntegrityHash
        self.exportedAt = exportedAt
        self.metadata = metadata
    }

    /// aiss `compute_chain_hash`: SHA-256 hex over the concatenated hex event hashes.
    public static func chainIntegrityHash(eventHashes: [String]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(eventHashes.count * 64)
        for hash in eventHashes { bytes += hash.utf8 }
        return sha256Hex(bytes)
    }

    // MARK: writing

    /// The export document for `events` as JSON text: one event per line, each exactly its
    /// stored ``Stamp/text``, so that `json.load` followed by aiss's canonicalization gives the
    /// same hashes (Keel's payloads are integers and ASCII names only).
    ///
    /// `identity` is the document of the key the chain starts with.
    public static func export(identity: IdentityDocument, events: [Stamp], exportedAt: Int64) throws(LedgerError) -> [UInt8] {
        let seal = chainIntegrityHash(eventHashes: events.map(\.hash))
        let metadata: JSONValue = [
            "event_count": .integer(Int64(events.count)),
            "first_timestamp": events.first.map { .integer($0.timestamp) } ?? .null,
            "last_timestamp": events.last.map { .integer($0.timestamp) } ?? .null,
            "exporter": "keel",
            "standard": "AISS-1.0",
        ]
        var out: [UInt8] = []
        out.reserveCapacity(events.reduce(512) { $0 + $1.text.utf8.count + 4 })
        out += Array("{\n  \"spec\": \"\(specification)\",\n  \"agent_identity\": ".utf8)
        out += try identity.encoded()
        out += Array(",\n  \"events\": [".utf8)
        for (offset, stamp) in events.enumerated() {
            out += Array((offset == 0 ? "\n    " : ",\n    ").utf8)
            out += stamp.text.utf8
        }
        out += Array((events.isEmpty ? "],\n" : "\n  ],\n").utf8)
        out += Array("  \"chain_integrity_hash\": \"\(seal)\",\n  \"exported_at\": \(exportedAt),\n  \"metadata\": ".utf8)
        out += try CanonicalJSON.encode(metadata)
        out += Array("\n}\n".utf8)
        return out
    }

    // MARK: reading

    /// Parses an export; the error says what is wrong and where (JSON line and column, or the
    /// member at fault).
    public static func parse(_ bytes: some Collection<UInt8>) throws(LedgerError) -> AuditBundle {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw LedgerError(.malformedBundle, "the bundle is not readable: \(error.message)", cause: error)
        }
        guard case .object(let members) = document else {
            throw LedgerError(.malformedBundle, "the bundle is \(document.typeName), not an AISS-1.0-AUDIT object")
        }
        func member(_ name: JSONKey) throws(LedgerError) -> JSONValue {
            guard let value = members[name] else {
                throw LedgerError(
                    .malformedBundle,
                    "the bundle has no \"\(name)\"; an AISS-1.0-AUDIT export has spec, agent_identity, events, chain_integrity_hash and exported_at")
            }
            return value
        }
        guard case .string(let spec) = try member("spec") else {
            throw LedgerError(.malformedBundle, "the bundle's \"spec\" is not a string")
        }
        guard spec == specification else {
            throw LedgerError(.malformedBundle, "the bundle's spec is \"\(spec.prefix(40))\"; only \(specification) exports can be verified")
        }
        let identity: IdentityDocument
        do {
            identity = try IdentityDocument(json: try member("agent_identity"))
            _ = try identity.agentKey()
        } catch {
            throw LedgerError(.malformedBundle, "the bundle's agent_identity is unusable: \(error.message)", cause: error)
        }
        guard case .array(let events) = try member("events") else {
            throw LedgerError(.malformedBundle, "the bundle's \"events\" is not an array")
        }
        guard case .string(let seal) = try member("chain_integrity_hash") else {
            throw LedgerError(.malformedBundle, "the bundle's \"chain_integrity_hash\" is not a string")
        }
        guard case .integer(let exportedAt) = try member("exported_at") else {
            throw LedgerError(.malformedBundle, "the bundle's \"exported_at\" is not an integer (Unix seconds)")
        }
        return AuditBundle(
            spec: spec, identity: identity, events: events, chainIntegrityHash: seal, exportedAt: exportedAt, metadata: members["metadata"])
    }

    // MARK: verifying

    /// Verifies the bundle, pinned to `pinnedKey` when given: the identity's base64 public key
    /// or an identity document (JSON text). Without a pin, a chain re-signed with another key
    /// under a swapped identity document verifies; with it, it does not.
    ///
    /// `sealRequired` forces whether the bundle must end with Keel's signed ``ExportSeal``;
    /// nil decides from the bundle (``ExportSeal/provenance(metadata:events:sealRequired:)``).
    public func verify(pinnedKey: String?, sealRequired: Bool? = nil) async throws(LedgerError) -> BundleReport {
        let pinned = try pinnedKey.map { (text) throws(LedgerError) -> AgentKey in try AgentKey(pinning: text) }
        return await verify(pinned: pinned, sealRequired: sealRequired)
    }

    /// Verifies the bundle: every event (see ``ChainVerifier``), the integrity hash, that the
    /// identity's agent_id derives from its public key, and that Keel's export ends with its
    /// signed ``ExportSeal`` (`sealRequired` as in ``verify(pinnedKey:sealRequired:)``).
    public func verify(
        pinned: AgentKey?, options: ChainVerifier.Options = ChainVerifier.Options(), sealRequired: Bool? = nil
    ) async -> BundleReport {
        // parse() checked that the key decodes; a hand-built bundle may not have.
        guard let key = try? identity.agentKey() else {
            let brk = ChainBreak(
                index: 0, seq: nil, kind: .invalidIdentity, expected: "a base64 Ed25519 public key", found: identity.publicKey,
                message: "the identity's public_key is not a 32-byte Ed25519 key: nothing can be verified"
            )
            return BundleReport(
                breaks: [brk], eventCount: events.count, identity: identity, pinned: pinned, computedIntegrityHash: "",
                declaredIntegrityHash: chainIntegrityHash, head: nil)
        }
        var breaks: [ChainBreak] = []
        if !exactlyEqual(key.agentID, identity.agentID) {
            breaks.append(
                ChainBreak(
                    index: 0, seq: nil, kind: .invalidIdentity, expected: key.agentID, found: identity.agentID,
                    message: "the identity's agent_id does not derive from its public_key"
                )
            )
        }
        let verifier = ChainVerifier(identity: key, pinned: pinned, options: options)
        let start = verifier.chainStart()
        let digests = await verifier.digests(EventSource(events), start: start, parallel: true)
        let chain = verifier.link(digests, start: start)
        breaks += chain.breaks

        // aiss hashes every event in its own dialect; Keel's events are the same in both.
        let effective = digests.map { $0.hash ?? "" }
        let computed = Self.chainIntegrityHash(eventHashes: effective)
        var matches = exactlyEqual(computed, chainIntegrityHash)
        if !matches, digests.contains(where: { $0.alternateHash != nil }) {
            let pythonForm = digests.map { $0.alternateHash ?? $0.hash ?? "" }
            matches = exactlyEqual(Self.chainIntegrityHash(eventHashes: pythonForm), chainIntegrityHash)
        }
        if !matches {
            breaks.append(
                ChainBreak(
                    index: events.count, seq: nil, kind: .chainIntegrityMismatch, expected: computed, found: chainIntegrityHash,
                    message:
                        "chain_integrity_hash is not the hash of these \(events.count) events: events were added, removed, changed or reordered after export"
                )
            )
        }
        // The integrity hash is unkeyed: only a signed seal tells a cut export from a whole one.
        var seal: ExportSeal?
        var warnings: [String] = []
        switch ExportSeal.verdict(events: events, metadata: metadata, sealRequired: sealRequired) {
        case .sealed(let found): seal = found
        case .unsealed(let brk): breaks.append(brk)
        case .unsealedForeign(let warning): warnings.append(warning)
        }
        return BundleReport(
            breaks: breaks, eventCount: events.count, identity: identity, pinned: pinned, computedIntegrityHash: computed,
            declaredIntegrityHash: chainIntegrityHash, head: chain.head, seal: seal, warnings: warnings
        )
    }
}

/// The outcome of verifying an ``AuditBundle``.
public struct BundleReport: Sendable {
    /// Every problem found: chain breaks in order, then a `chain_integrity_mismatch` if the
    /// integrity hash is wrong, then `unsealed_export` if Keel's export lacks its signed seal.
    public var breaks: [ChainBreak]
    /// How many events the bundle holds.
    public var eventCount: Int
    /// The bundle's identity document.
    public var identity: IdentityDocument
    /// The key verification was pinned to, if any.
    public var pinned: AgentKey?
    /// The seal computed from the events.
    public var computedIntegrityHash: String
    /// The seal the bundle declares.
    public var declaredIntegrityHash: String
    /// The last event's position, for resuming verification after it.
    public var head: Checkpoint?
    /// The signed export checkpoint the bundle ends with, if it does.
    public var seal: ExportSeal?
    /// What verification could not check, for a person (a foreign bundle's tail cannot be
    /// checked for truncation); not breaks.
    public var warnings: [String]

    /// A report from its parts.
    public init(
        breaks: [ChainBreak], eventCount: Int, identity: IdentityDocument, pinned: AgentKey?, computedIntegrityHash: String,
        declaredIntegrityHash: String, head: Checkpoint?, seal: ExportSeal? = nil, warnings: [String] = []
    ) {
        self.breaks = breaks
        self.eventCount = eventCount
        self.identity = identity
        self.pinned = pinned
        self.computedIntegrityHash = computedIntegrityHash
        self.declaredIntegrityHash = declaredIntegrityHash
        self.head = head
        self.seal = seal
        self.warnings = warnings
    }

    /// True when nothing is wrong.
    public var isValid: Bool { breaks.isEmpty }

    /// Whether the declared `chain_integrity_hash` matches the events.
    public var integrityHashMatches: Bool {
        !breaks.contains { $0.kind == .chainIntegrityMismatch }
    }
}
