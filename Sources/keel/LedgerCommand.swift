import ArgumentParser
import Foundation
import KeelCore
import KeelLedger
import KeelPipeline
import KeelStore

/// `keel ledger ...`: the signed audit ledger.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The signed, hash-chained audit ledger: status, verification, breaks, export.",
        subcommands: [
            LedgerStatusCommand.self, LedgerVerifyCommand.self, LedgerResolveCommand.self, LedgerExportCommand.self,
            LedgerIdentityCommand.self, LedgerRotateKeyCommand.self,
        ])
}

/// The ledger service for a one-shot command (no alert channels: `keel run` sends alerts).
private func service(_ config: KeelConfig, _ store: SQLiteStore, events: PipelineEventSink = CLI.printer) throws -> LedgerService {
    guard let signer = store.ledger?.signer else { throw ExitCode(1) }
    return LedgerService(
        store: store, signer: signer, backup: LedgerSetup.backup(config), alerts: nil, publicURL: config.alerts.publicURL,
        clock: SystemWallClock(), events: events)
}

struct LedgerStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "valid, break_pending or broken_declared, with the open breaks and their deadlines.")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        let now = Date()
        // A deadline that passed while nothing ran is stamped now, exactly once.
        _ = try await store.stampTimeouts(now: now)
        let status = try await store.ledgerStatus(now: now)
        let breaks = try await store.ledgerBreaks()
        let events = try await store.ledgerCount()
        let checkpoint = try await store.lastCheckpoint()
        if json {
            struct Report: Encodable {
                var status: String
                var events: Int64
                var lastCheckpointSeq: Int64?
                var agentID: String?
                var genesisAgentID: String?
                var breaks: [LedgerBreakRecord]
                enum CodingKeys: String, CodingKey {
                    case status, events, breaks
                    case lastCheckpointSeq = "last_checkpoint_seq"
                    case agentID = "agent_id"
                    case genesisAgentID = "genesis_agent_id"
                }
            }
            CLI.out(
                try CLI.json(
                    Report(
                        status: status.rawValue, events: events, lastCheckpointSeq: checkpoint?.seq, agentID: store.ledger?.signer.agentID,
                        genesisAgentID: store.ledger?.genesis.agentID, breaks: breaks)))
            return
        }
        var text = "ledger: \(status.rawValue)\n  events: \(events)   last checkpoint: \(checkpoint.map { "seq \($0.seq)" } ?? "none yet")"
        text += "   signer: \(store.ledger?.signer.agentID ?? "?")"
        if let ledger = store.ledger, ledger.genesis != ledger.signer.key { text += " (the chain starts with \(ledger.genesis.agentID))" }
        text += "\n"
        let open = breaks.filter { $0.decision == nil }
        if breaks.isEmpty { text += "  no breaks\n" }
        for b in breaks {
            let state: String
            if let decision = b.decision {
                state = "\(decision) by \(b.decidedBy ?? "?") at \(Timestamp.text(b.decidedAt ?? b.detectedAt))"
            } else if b.timeoutSeq != nil || now >= b.deadline {
                state = "no decision by \(Timestamp.text(b.deadline)): timeout_no_action"
            } else {
                let hours = Int(b.deadline.timeIntervalSince(now) / 3600)
                state = "OPEN, decide by \(Timestamp.text(b.deadline)) (\(hours) h left)"
            }
            text += "  #\(b.id) \(b.kind) at seq \(b.seq.map(String.init) ?? "-"): \(state)\n      \(b.message)\n"
        }
        if !open.isEmpty {
            text += "Decide with: keel ledger resolve ID --decision validate|ignore|reject --by NAME [--note TEXT]\n"
        }
        CLI.out(text)
    }
}

struct LedgerVerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify the whole ledger using every core, or an AISS-1.0-AUDIT bundle with --bundle.",
        discussion: "Exit 0 valid, 1 broken (each break with its index and kind), 2 unreadable input.")
    @OptionGroup var options: ConfigOption
    @Option(help: "An AISS-1.0-AUDIT export to verify (Keel's or another implementation's).") var bundle: String?
    @Option(
        name: .customLong("public-key"),
        help: "Pin the signer: a base64 Ed25519 public key, or a path to an identity document.") var publicKey: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        if let bundle {
            try await verifyBundle(bundle)
            return
        }
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        let started = ContinuousClock.now
        // With --json, stdout is the report alone: the notes of new breaks go to stderr.
        let verification = try await service(config, store, events: json ? PipelineEventSink { CLI.err($0.line) } : CLI.printer).verifyAll()
        let elapsed = ContinuousClock.now - started
        let known = try await store.ledgerBreaks()
        // Breaks recorded in this run that the chain walk did not list itself: a damaged head the
        // append found, or ledger_breaks rows the stamps do not back.
        let recordedOnly = verification.newBreaks.filter { record in !verification.found.contains { record.matches($0) } }
        // A break a person validated (by a signed decision) is explained and acceptable; anything
        // else found or recorded fails the check.
        let unexplained = verification.found.filter { b in
            !known.contains { $0.matches(b) && $0.decision == BreakDecision.validate.rawValue }
        }
        let failed = !unexplained.isEmpty || !verification.newBreaks.isEmpty
        if json {
            struct Report: Encodable {
                var valid: Bool
                var events: Int
                var breaks: [Found]
                var newBreaks: Int
                enum CodingKeys: String, CodingKey {
                    case valid, events, breaks
                    case newBreaks = "new_breaks"
                }
            }
            struct Found: Encodable { var seq: Int64?; var kind: String; var expected: String; var found: String; var message: String }
            let all = verification.found.map { Found(seq: $0.seq, kind: $0.kind, expected: $0.expected, found: $0.found, message: $0.message) }
                + recordedOnly.map { Found(seq: $0.seq, kind: $0.kind, expected: $0.expected, found: $0.found, message: $0.message) }
            CLI.out(try CLI.json(Report(valid: all.isEmpty, events: verification.checked, breaks: all, newBreaks: verification.newBreaks.count)))
        } else {
            CLI.out("verified \(verification.checked) events in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))\n")
            if verification.found.isEmpty && recordedOnly.isEmpty {
                CLI.out("the chain is intact\n")
            }
            for b in verification.found {
                var mark = ""
                if let record = known.first(where: { $0.matches(b) }) {
                    if let decision = record.decision {
                        mark = decision == BreakDecision.validate.rawValue
                            ? " [validated by \(record.decidedBy ?? "?") as break #\(record.id)]"
                            : " [break #\(record.id): \(decision) by \(record.decidedBy ?? "?")]"
                    } else {
                        mark = " [break #\(record.id), pending: decide with `keel ledger resolve \(record.id)`]"
                    }
                }
                CLI.out("  seq \(b.seq.map(String.init) ?? "-"): \(b.kind): \(b.message)\(mark)\n")
            }
            for b in recordedOnly {
                CLI.out("  \(b.seq.map { "seq \($0)" } ?? "store"): \(b.kind): \(b.message) [break #\(b.id), pending: decide with `keel ledger resolve \(b.id)`]\n")
            }
            if !verification.newBreaks.isEmpty {
                CLI.out("\(verification.newBreaks.count) new break(s) recorded and stamped; `keel ledger status` lists them (\(known.count) in all)\n")
            }
        }
        if failed { throw ExitCode(1) }
    }

    func verifyBundle(_ path: String) async throws {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            CLI.err("cannot read \(path): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let parsed: AuditBundle
        do {
            parsed = try AuditBundle.parse(bytes)
        } catch {
            CLI.err("\(path) is not a readable AISS-1.0-AUDIT bundle: \(error.message)")
            throw ExitCode(2)
        }
        var pin: String?
        if let publicKey {
            // A path to an identity document, or the key itself.
            if FileManager.default.fileExists(atPath: publicKey) {
                guard let text = try? String(contentsOfFile: publicKey, encoding: .utf8) else {
                    CLI.err("cannot read the identity document \(publicKey)")
                    throw ExitCode(2)
                }
                pin = text
            } else {
                pin = publicKey
            }
        }
        var pinned: AgentKey?
        do {
            pinned = try pin.map { (text) throws(LedgerError) -> AgentKey in try AgentKey(pinning: text) }
        } catch {
            CLI.err("--public-key: \(error.message)")
            throw ExitCode(2)
        }
        // Inside a Keel project, its own chain is verified from its genesis key (kept beside the
        // signing key, or ledger.public_key) and must end with its signed export checkpoint.
        var sealRequired: Bool?
        var pinNote = pin == nil ? " (signer not pinned: pass --public-key to catch a re-signed chain)" : " (pinned)"
        if let anchor = localAnchor() {
            if pinned == nil, (try? parsed.identity.agentKey()) == anchor {
                pinned = anchor
                pinNote = " (pinned to this project's genesis key)"
            }
            if pinned == anchor { sealRequired = true }
        }
        let report = await parsed.verify(pinned: pinned, sealRequired: sealRequired)
        if json {
            struct Report: Encodable {
                var valid: Bool; var events: Int; var agentID: String; var pinned: Bool; var seal: Seal?; var breaks: [Found]; var warnings: [String]
                enum CodingKeys: String, CodingKey { case valid, events, pinned, seal, breaks, warnings; case agentID = "agent_id" }
            }
            struct Seal: Encodable { var index: Int; var seq: Int64?; var size: Int64 }
            struct Found: Encodable { var index: Int; var seq: Int64?; var kind: String; var expected: String; var found: String; var message: String }
            CLI.out(try CLI.json(Report(
                valid: report.isValid, events: report.eventCount, agentID: parsed.identity.agentID, pinned: pinned != nil,
                seal: report.seal.map { Seal(index: $0.index, seq: $0.seq, size: $0.size) },
                breaks: report.breaks.map { Found(index: $0.index, seq: $0.seq, kind: $0.kind.rawValue, expected: $0.expected, found: $0.found, message: $0.message) },
                warnings: report.warnings)))
        } else {
            CLI.out("\(path): \(report.eventCount) events signed by \(parsed.identity.agentID)\(pinNote)\n")
            if let seal = report.seal {
                CLI.out("sealed by its signed export checkpoint\(seal.seq.map { " (seq \($0))" } ?? ""): \(seal.size) events before it\n")
            }
            for warning in report.warnings { CLI.out("warning: \(warning)\n") }
            CLI.out(report.isValid ? "valid\n" : "BROKEN\n")
            for b in report.breaks { CLI.out("  index \(b.index): \(b.kind.rawValue): \(b.message)\n") }
        }
        if !report.isValid { throw ExitCode(1) }
    }

    /// The genesis key of the project `--config` names, when there is one (`ledger.public_key`,
    /// else the genesis file beside the signing key); nil outside a Keel project.
    func localAnchor() -> AgentKey? {
        guard FileManager.default.fileExists(atPath: options.absolutePath), let config = try? KeelConfig.load(path: options.absolutePath) else {
            return nil
        }
        if let pinned = config.ledger.publicKey, let key = try? AgentKey(base64: pinned) { return key }
        return try? GenesisAnchor(keyPath: config.ledger.key).load()
    }
}

struct LedgerResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve", abstract: "Decide on a chain break; the decision is a signed stamp naming who decided.")
    @OptionGroup var options: ConfigOption
    @Argument(help: "The break id (`keel ledger status` lists them).") var breakID: Int64
    @Option(help: "validate (explained and acceptable), ignore (acknowledged) or reject (confirmed anomaly).") var decision: String
    @Option(help: "Who decides.") var by: String
    @Option(help: "Why, for the record.") var note: String?

    func run() async throws {
        guard let choice = BreakDecision(rawValue: decision) else {
            CLI.err("--decision must be validate, ignore or reject (got \"\(decision)\")")
            throw ExitCode(2)
        }
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        let record: LedgerBreakRecord
        do {
            record = try await store.resolveBreak(breakID, decision: choice, by: by, note: note, now: Date())
        } catch let error as StoreError {
            CLI.err(error.message)
            throw ExitCode(1)
        }
        CLI.out("break #\(record.id): \(choice.rawValue) by \(record.decidedBy ?? by), stamped at seq \(record.resolutionSeq.map(String.init) ?? "?")\n")
        CLI.out("ledger: \(try await store.ledgerStatus(now: Date()).rawValue)\n")
        do {
            try await service(config, store).backupNow()
        } catch {
            CLI.err("the decision is recorded, but the backup push failed: \(error)")
        }
    }
}

struct LedgerExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the ledger as an AISS-1.0-AUDIT document for third-party verification.",
        discussion: "The export ends with a signed checkpoint of its size, stamped into the ledger first, so that a cut export does not verify.")
    @OptionGroup var options: ConfigOption
    @Option(help: "Where to write it.") var out: String

    func run() async throws {
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        let sealed: SealedExport
        do {
            sealed = try await store.sealExport(now: Date())
        } catch {
            CLI.err("cannot seal the export, nothing was written: \((error as? StoreError)?.message ?? String(describing: error))")
            throw ExitCode(1)
        }
        var stamps: [Stamp] = []
        for event in sealed.events {
            do {
                stamps.append(try Stamp.parse(event.event))
            } catch {
                CLI.err("event \(event.seq) is not a readable stamp (\(error)); run `keel ledger verify` to record the break, then export")
                throw ExitCode(1)
            }
        }
        guard let ledger = store.ledger else { throw ExitCode(1) }
        // The identity that starts the chain (the genesis key, kept outside the database) is the
        // one verifiers begin with.
        let identity =
            ledger.genesis == ledger.signer.key
            ? ledger.signer.document : IdentityDocument(key: ledger.genesis, createdAt: stamps.first?.timestamp ?? ledger.signer.createdAt)
        let bytes = try AuditBundle.export(identity: identity, events: stamps, exportedAt: Int64(Date().timeIntervalSince1970))
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            CLI.err("cannot write \(out): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        CLI.out("wrote \(stamps.count) events signed by \(identity.agentID) to \(out)\n")
        CLI.out(
            "sealed by the checkpoint at seq \(sealed.seal.seq) (size \(sealed.size): the events before it)"
                + (sealed.reused ? ", already the ledger's head\n" : ", stamped now\n"))
    }
}

struct LedgerIdentityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "identity", abstract: "Print the signer's AISS-1.0 identity document.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        guard let signer = store.ledger?.signer else { throw ExitCode(1) }
        CLI.out(String(decoding: try signer.document.encoded(), as: UTF8.self) + "\n")
    }
}

struct LedgerRotateKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Replace the signing key; the hand-over is stamped by the old key and old events stay verifiable.",
        discussion: "Stop `keel run` first: a running process keeps signing with the key it loaded.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        let file = KeyFile(path: config.ledger.key)
        let previous = store.ledger?.signer.agentID ?? "?"
        let next = try file.prepareRotation(createdAt: Int64(Date().timeIntervalSince1970))
        do {
            try await store.rotateKey(to: next, now: Date())
        } catch {
            try? file.discardRotation()
            CLI.err("the rotation was not stamped, the old key stays: \(error)")
            throw ExitCode(1)
        }
        _ = try file.commitRotation()
        CLI.out("rotated: \(previous) handed over to \(next.agentID)\n")
        CLI.out(String(decoding: try next.document.encoded(), as: UTF8.self) + "\n")
    }
}
