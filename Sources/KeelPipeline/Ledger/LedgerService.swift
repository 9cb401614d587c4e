import Foundation
public import KeelCore
public import KeelLedger
public import KeelStore

/// Keeps the audit ledger honest around the store: verifies it at startup (from the last signed
/// checkpoint, so startup cost does not grow with the ledger) and in full on request, compares it
/// with its backup, restores a cold start from the backup, alerts people about breaks, stamps
/// timeouts, and pushes the backup at checkpoints, breaks and decisions.
public actor LedgerService {
    /// What a verification found.
    public struct Verification: Sendable {
        /// Events read.
        public var checked: Int
        /// Every problem found, including ones already known.
        public var found: [DetectedBreak]
        /// The breaks this verification recorded for the first time.
        public var newBreaks: [LedgerBreakRecord]
        /// The seq verification started after (0 for a full verify).
        public var from: Int64
        public var restored: Int
    }

    let store: any LedgerStore
    let signer: SigningIdentity
    let backup: LedgerBackup?
    let alerts: AlertDispatcher?
    let publicURL: PublicURL
    let clock: any WallClock
    let events: PipelineEventSink
    /// What the backup was last brought up to: (events, breaks fingerprint).
    var lastBackup: (count: Int64, breaks: String)?

    /// Links to `publicURL`'s current base (which follows the port `keel run` really listens on).
    public init(
        store: any LedgerStore, signer: SigningIdentity, backup: LedgerBackup?, alerts: AlertDispatcher?, publicURL: PublicURL,
        clock: any WallClock, events: PipelineEventSink
    ) {
        self.store = store
        self.signer = signer
        self.backup = backup
        self.alerts = alerts
        self.publicURL = publicURL
        self.clock = clock
        self.events = events
    }

    /// Links to the fixed base `publicURL`.
    public init(
        store: any LedgerStore, signer: SigningIdentity, backup: LedgerBackup?, alerts: AlertDispatcher?, publicURL: String,
        clock: any WallClock, events: PipelineEventSink
    ) {
        self.init(store: store, signer: signer, backup: backup, alerts: alerts, publicURL: PublicURL(fixed: publicURL), clock: clock, events: events)
    }

    // MARK: Startup

    /// Restores an empty store from the backup, verifies from the last checkpoint, compares with
    /// the backup, stamps due timeouts, alerts, and backs up.
    @discardableResult
    public func startup() async throws -> Verification {
        var restored = 0
        if try await store.ledgerCount() == 0, let backup {
            let snapshot = try await backup.restore()
            if !snapshot.events.isEmpty {
                let breaks = try snapshot.breaks.map { try JSONDecoder.timestamps.decode([LedgerBreakRecord].self, from: $0) } ?? []
                try await store.importLedger(events: snapshot.events, breaks: breaks, now: clock.now())
                restored = snapshot.events.count
                note("restored \(restored) ledger events and \(breaks.count) breaks from the backup \(backup.remote)")
            }
        }
        // Compared before verifying: recording a break appends stamps, which would hide a cut tail.
        let compared = try await compareWithBackup()
        var verification = try await verifyIncrementally()
        verification.restored = restored
        verification.found += compared
        verification.newBreaks += try await store.recordBreaks(compared, now: clock.now())
        await tick()
        return verification
    }

    /// Verifies the events after the last verified checkpoint (see ``ResumePoint``; all of them
    /// when there is none), every column of those rows against their texts, and the break rows
    /// against their stamps.
    public func verifyIncrementally() async throws -> Verification {
        guard let point = try await store.ledgerResumePoint() else { return try await verifyAll() }
        let after = try await store.ledgerEvents(after: point.seq, limit: nil)
        let report = await ChainVerifier(identity: try genesis()).verify(texts: after.map(\.event), from: point.checkpoint)
        let found = report.breaks.map(Self.detected) + (await Self.columnProblems(after))
        return try await record(found, checked: after.count + 1, from: point.seq)
    }

    /// The full check of every event, using every core (`keel ledger verify`): from the genesis
    /// key kept outside the database, every link, signature, rotation and checkpoint, and every
    /// column of every row against its text.
    public func verifyAll() async throws -> Verification {
        let all = try await store.ledgerEvents(after: 0, limit: nil)
        let report = await ChainVerifier(identity: try genesis()).verify(texts: all.map(\.event))
        var found = report.breaks.map(Self.detected) + (await Self.columnProblems(all))
        found += try await store.stampCoverageProblems(besides: found)
        return try await record(found, checked: all.count, from: 0)
    }

    /// ``LedgerRowCheck`` of every row, in chunks on every core (each text is parsed again).
    static func columnProblems(_ rows: [LedgerEventRecord]) async -> [DetectedBreak] {
        let chunks = max(1, min(rows.count / 256, ProcessInfo.processInfo.activeProcessorCount * 4))
        guard chunks > 1 else { return rows.flatMap { LedgerRowCheck.problems($0) } }
        let size = (rows.count + chunks - 1) / chunks
        return await withTaskGroup(of: (Int, [DetectedBreak]).self) { group in
            for chunk in 0..<chunks {
                let slice = rows[min(rows.count, chunk * size)..<min(rows.count, (chunk + 1) * size)]
                group.addTask { (chunk, slice.flatMap { LedgerRowCheck.problems($0) }) }
            }
            var results = [[DetectedBreak]](repeating: [], count: chunks)
            for await (chunk, problems) in group { results[chunk] = problems }
            return results.flatMap { $0 }
        }
    }

    /// Truncation or rollback against the backup: the backup holds more events than the store, or
    /// a different event at the backup's head.
    public func compareWithBackup() async throws -> [DetectedBreak] {
        guard let backup, let head = try await backup.fetchHead() else { return [] }
        let count = try await store.ledgerCount()
        if head.size > count {
            return [
                DetectedBreak(
                    seq: count + 1, kind: "truncation", expected: "\(head.size) events (backup head \(head.headHash.prefix(16)))",
                    found: "\(count) events",
                    message: "the store holds \(count) events but its backup holds \(head.size): events were removed or the store was rolled back")
            ]
        }
        guard head.size > 0 else { return [] }
        // The hash of the text, not the unsigned column: a forged row can keep the real hash there.
        let local = try await store.ledgerEvents(after: head.size - 1, limit: 1).first.map { (try? Stamp.parse($0.event).hash) ?? $0.hash }
        if let local, local != head.headHash {
            return [
                DetectedBreak(
                    seq: head.size, kind: "rollback", expected: head.headHash, found: local,
                    message: "event \(head.size) differs from the backed-up one: the store's history was rewritten or rolled back and rebuilt")
            ]
        }
        return []
    }

    // MARK: Running

    /// The periodic duties of `keel run`: stamp timeouts, alert about new breaks, back up when due.
    public func tick() async {
        do {
            for timedOut in try await store.stampTimeouts(now: clock.now()) {
                note("break #\(timedOut.id) had no decision by its deadline: timeout_no_action stamped; the chain stays broken_declared")
            }
            try await alertPending()
            try await backupIfDue()
        } catch {
            events.emit(.warning(itemID: nil, message: "ledger: \(error)", at: clock.now()))
        }
    }

    /// Sends every break that has not been alerted to every channel, then marks it.
    public func alertPending() async throws {
        let pending = try await store.ledgerBreaks().filter { $0.alertedAt == nil && $0.decision == nil }
        guard !pending.isEmpty else { return }
        guard let alerts else {
            // No channel configured: the break is on the page and in `keel ledger status`.
            try await store.markAlerted(pending.map(\.id), now: clock.now())
            return
        }
        var delivered: [Int64] = []
        for b in pending {
            let results = await alerts.dispatch(alert(for: b))
            if results.contains(where: \.isDelivered) || results.isEmpty { delivered.append(b.id) }
            for failure in results where !failure.isDelivered {
                events.emit(.warning(itemID: nil, message: "ledger: alert for break #\(b.id) via \(failure.channel) failed: \(failure.error.map { "\($0)" } ?? "unknown")", at: clock.now()))
            }
        }
        try await store.markAlerted(delivered, now: clock.now())
    }

    /// The alert a person receives for a break: what, where, expected vs found, the deadline and a link.
    public func alert(for b: LedgerBreakRecord) -> Alert {
        Alert(
            event: "chain_break_detected",
            title: "Keel audit ledger: break #\(b.id) (\(b.kind))",
            body: "\(b.message)\nDecide by \(Timestamp.text(b.deadline)): validate, ignore or reject.",
            link: "\(publicURL.current)/breaks/\(b.id)",
            severity: .critical,
            fields: [
                ("break", "#\(b.id)"), ("kind", b.kind), ("at seq", b.seq.map(String.init) ?? "the whole ledger"),
                ("expected", b.expected), ("found", b.found), ("deadline", Timestamp.text(b.deadline)),
            ])
    }

    /// Pushes the backup when the ledger passed a checkpoint or the breaks changed since the last push.
    public func backupIfDue() async throws {
        guard backup != nil else { return }
        let breaks = try await store.ledgerBreaks()
        let fingerprint = breaks.map { "\($0.id):\($0.decision ?? "-"):\($0.timeoutSeq ?? 0)" }.joined(separator: ",")
        let checkpointSeq = try await store.lastCheckpoint()?.seq ?? 0
        if let last = lastBackup, last.breaks == fingerprint, checkpointSeq <= last.count { return }
        try await backupNow()
    }

    /// Brings the backup up to the store now.
    public func backupNow() async throws {
        guard let backup else { return }
        let count = try await store.ledgerCount()
        guard count > 0, let head = try await store.ledgerEvents(after: count - 1, limit: 1).first else { return }
        let breaks = try await store.ledgerBreaks()
        let store = self.store
        do {
            try await backup.push(
                head: LedgerBackup.Head(size: count, headHash: head.hash), breaks: try JSONEncoder.timestamps.encode(breaks),
                identity: Data(try signer.document.encoded())
            ) { after in try await store.ledgerEvents(after: after, limit: Int(count - after)).map(\.event) }
        } catch let error as LedgerBackupError where error.code == .ahead {
            // The backup knows more than the store: that is a break, not a reason to overwrite it.
            _ = try await store.recordBreaks(try await compareWithBackup(), now: clock.now())
            throw error
        }
        lastBackup = (count, breaks.map { "\($0.id):\($0.decision ?? "-"):\($0.timeoutSeq ?? 0)" }.joined(separator: ","))
    }

    // MARK: Helpers

    func record(_ found: [DetectedBreak], checked: Int, from: Int64) async throws -> Verification {
        var found = Self.incidents(found)
        // Each break names the bytes it was found in, so that one decided on earlier bytes of the
        // same event does not pass for it.
        for index in found.indices where found[index].evidence == nil {
            guard let seq = found[index].seq, let event = try await store.ledgerEvents(after: seq - 1, limit: 1).first, event.seq == seq
            else { continue }
            found[index].evidence = BreakEvidence.digest(storedHash: event.hash, text: event.event)
        }
        let new = try await store.recordBreaks(found, now: clock.now())
        for b in new { note("break #\(b.id) detected (\(b.kind) at seq \(b.seq.map(String.init) ?? "-")): \(b.message)") }
        return Verification(checked: checked, found: found, newBreaks: new, from: from, restored: 0)
    }

    /// The anchor every verification starts from.
    func genesis() throws -> AgentKey {
        guard let ledger = store.ledger else {
            throw PipelineError(.misconfigured, "the store was opened without its ledger settings: nothing to verify the ledger against")
        }
        return ledger.genesis
    }

    func note(_ message: String) {
        events.emit(.warning(itemID: nil, message: "ledger: " + message, at: clock.now()))
    }

    /// One damaged event shows up as several findings (its signature, its stored hash, the next
    /// event's link; a deletion as a gap and a link). A person decides on the incident, so the
    /// findings at one seq, and a broken link right after them, become one break whose message
    /// lists them all.
    static func incidents(_ found: [DetectedBreak]) -> [DetectedBreak] {
        var groups: [DetectedBreak] = []
        let ordered = found.sorted { ($0.seq ?? .max, $0.kind) < ($1.seq ?? .max, $1.kind) }
        for b in ordered {
            guard let last = groups.last, let seq = b.seq, let lastSeq = last.seq else {
                groups.append(b)
                continue
            }
            let sameEvent = seq == lastSeq
            let brokenLinkAfter = seq == lastSeq + 1 && b.kind == "hash_mismatch" && !last.message.contains("at seq \(seq):")
            guard sameEvent || brokenLinkAfter else {
                groups.append(b)
                continue
            }
            if sameEvent && b.kind == last.kind && b.expected == last.expected && b.found == last.found { continue }
            var merged = last
            merged.message += "; also \(b.kind) at seq \(seq): \(b.message)"
            groups[groups.count - 1] = merged
        }
        return groups
    }

    static func detected(_ b: ChainBreak) -> DetectedBreak {
        DetectedBreak(seq: b.seq ?? Int64(b.index + 1), kind: b.kind.rawValue, expected: b.expected, found: b.found, message: b.message)
    }
}

extension JSONEncoder {
    /// ISO 8601 dates and sorted keys: the form of every JSON file Keel writes for people and backups.
    static var timestamps: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.text(date))
        }
        return encoder
    }
}

extension JSONDecoder {
    static var timestamps: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Timestamp.date(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 timestamp: \(text)"))
            }
            return date
        }
        return decoder
    }
}
