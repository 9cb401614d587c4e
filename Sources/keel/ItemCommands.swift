import ArgumentParser
import Foundation
import KeelCore
import KeelPipeline
import KeelStore

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "File an issue for Keel to take to a merge.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Title of the issue.") var title: String
    @Option(name: .customLong("body-file"), help: "File holding the issue text (markdown); - for stdin.") var bodyFile: String
    @Option(name: .customLong("depends-on"), help: "An item that must merge first (repeatable).") var dependsOn: [Int64] = []
    @Flag(help: "File an epic: the planner agent decomposes it into sub-issues, and it closes when they merge.") var epic = false
    @Option(name: .customLong("budget-usd"), help: "This item's own cost ceiling in USD (overrides budgets.issue_usd).") var budgetUSD: String?
    @Flag(help: "Print the new item as JSON.") var json = false
    @Flag(name: .customLong("new-store"), help: NewStoreFlag.help) var newStore = false

    func run() async throws {
        let config = try CLI.loadConfig(options)
        guard !title.trimmingCharacters(in: .whitespaces).isEmpty else {
            CLI.err("--title is empty: give the issue a title")
            throw ExitCode(1)
        }
        guard !title.contains(where: \.isNewline) else {
            CLI.err("--title holds a line break: give the issue a one-line title and put the rest in the body file")
            throw ExitCode(1)
        }
        let data: Data
        do {
            data = bodyFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: bodyFile))
        } catch {
            CLI.err("cannot read the body file \(bodyFile): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        guard let body = String(data: data, encoding: .utf8) else {
            let name = bodyFile == "-" ? "standard input" : "the body file \(bodyFile)"
            CLI.err("\(name) is not UTF-8 text (\(Self.firstInvalidUTF8(data).map { "first invalid byte at offset \($0)" } ?? "invalid bytes")): save it as UTF-8 and submit again")
            throw ExitCode(1)
        }
        var budget: Micros?
        if let budgetUSD {
            guard let micros = Money.micros(parsingUSD: budgetUSD) else {
                CLI.err("--budget-usd \(budgetUSD): expected an amount in USD, e.g. 5 or 2.50")
                throw ExitCode(1)
            }
            let estimate = config.budgets?.estimateMicros ?? KeelConfig.defaultBudgetEstimate
            guard micros >= estimate else {
                CLI.err("--budget-usd \(budgetUSD) is below the \(Money.format(estimate)) each agent run reserves (budgets.estimate_usd): no run could ever start")
                throw ExitCode(1)
            }
            budget = micros
        }
        let store = try await CLI.openStore(config, .create(newStore: newStore))
        do {
            let item = try await store.createItem(
                NewItem(
                    tenant: config.tenant, repo: config.project, title: title, body: body, budgetMicros: budget, dependsOn: dependsOn,
                    epic: epic),
                actor: CLI.operator_, now: Date())
            if json {
                CLI.out(try Reports.json(try await Reports.summary(item, store: store)) + "\n")
            } else {
                CLI.out("Filed \(epic ? "epic " : "")#\(item.id) \(item.title) (\(item.state.rawValue)). `keel run` takes it from here.\n")
            }
        } catch let error as StoreError {
            CLI.err(error.message)
            throw ExitCode(1)
        }
    }
}

extension SubmitCommand {
    /// The offset of the first byte that does not continue valid UTF-8, for the error that refuses it.
    static func firstInvalidUTF8(_ data: Data) -> Int? {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var consumed = 0
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
                consumed = offset
            case .emptyInput: return nil
            case .error: return consumed
            }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show every item, or one item with its timeline.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "An item id.") var id: Int64?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        if let id {
            guard let detail = try await Reports.detail(id, store: store) else {
                CLI.err("no item #\(id) in \(config.store.sqlite): `keel status` lists the items")
                throw ExitCode(1)
            }
            CLI.out(json ? try Reports.json(detail) + "\n" : Reports.text(detail))
        } else {
            let items = try await Reports.summaries(store: store)
            struct Items: Encodable { var items: [ItemSummary] }
            CLI.out(json ? try Reports.json(Items(items: items)) + "\n" : Reports.table(items))
        }
    }
}

/// A person's decision on an item: retry, reimplement or cancel.
struct HumanDecision {
    var outcome: Outcome
    var verb: String
    /// The history entry the decision writes (`human_retry`, `human_reimplement`); none for a cancel.
    var historyKind: String? = nil

    func apply(id: Int64, options: ConfigOption, note: String?) async throws {
        let config = try CLI.loadConfig(options)
        let store = try await CLI.openStore(config, .existing)
        guard let item = try await store.item(id) else {
            CLI.err("no item #\(id) in \(config.store.sqlite): `keel status` lists the items")
            throw ExitCode(1)
        }
        let actor = CLI.operator_
        let reason = "\(verb) by \(actor)" + (note.map { ": \($0)" } ?? "")
        var changes = ItemChanges()
        if let historyKind {
            changes.notBefore = .some(nil)
            changes.history = [NewHistoryEntry(stage: "human", kind: historyKind, summary: reason)]
        }
        if historyKind == "human_reimplement" {
            // A fresh branch: the next attempt does not build on the pushed head.
            changes.branch = .some(nil)
            changes.headSHA = .some(nil)
        }
        do {
            let updated = try await store.transition(itemID: id, on: outcome, reason: reason, actor: actor, now: Date(), changes: changes)
            CLI.out("#\(id) \(item.state.rawValue) → \(updated.state.rawValue)\n")
        } catch let error as StoreError where error.code == .illegalTransition {
            let allowed = outcome == .humanRetry ? "needs_human or failed" : "a state other than merged or cancelled"
            CLI.err("#\(id) is \(item.state.rawValue): only an item in \(allowed) can be \(verb)")
            throw ExitCode(1)
        }
    }
}

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Send an item waiting for a person back to the queue (its history goes with it).")
    @OptionGroup var options: ConfigOption
    @Argument(help: "The item id.") var id: Int64
    @Option(help: "Why, for the timeline.") var note: String?

    func run() async throws {
        try await HumanDecision(outcome: .humanRetry, verb: "retried", historyKind: "human_retry").apply(id: id, options: options, note: note)
    }
}

struct ReimplementCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reimplement",
        abstract: "Start an item waiting for a person over, on a fresh branch, with its history.",
        discussion: """
            Unlike retry, the next attempt is told the earlier approach did not work and works on a new branch \
            (keel/item-N-v2, -v3, ...; the old branch is kept for reference). The circuit breaker starts afresh.
            """)
    @OptionGroup var options: ConfigOption
    @Argument(help: "The item id.") var id: Int64
    @Option(help: "Why, for the timeline and the next attempt.") var note: String?

    func run() async throws {
        try await HumanDecision(outcome: .humanRetry, verb: "reimplemented", historyKind: "human_reimplement")
            .apply(id: id, options: options, note: note)
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel an item; a running agent on it is stopped.")
    @OptionGroup var options: ConfigOption
    @Argument(help: "The item id.") var id: Int64
    @Option(help: "Why, for the timeline.") var note: String?

    func run() async throws {
        try await HumanDecision(outcome: .cancelRequested, verb: "cancelled").apply(id: id, options: options, note: note)
    }
}
