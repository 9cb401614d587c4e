public import ArgumentParser
import Foundation
import KeelPipeline
import KeelStore

extension CostGrouping: ExpressibleByArgument {}

struct CostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Read the cost ledger: what each issue, agent, repo, tenant or day cost.",
        discussion: """
            Every agent run writes a row of cost_events (and a cost_event stamp in the audit ledger) with its tokens and \
            cost in micro-USD: the cost the agent reported, or priced from `pricing` in keel.yml when it reports none.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "Group by issue, agent, repo, tenant or day.") var by: CostGrouping = .issue
    @Option(help: "Only runs at or after this UTC date or time (2026-11-01 or 2026-11-01T08:00:00Z).") var since: String?
    @Flag(help: "Print JSON (amounts in integer micro-USD).") var json = false

    func run() async throws {
        let config = try CLI.loadConfig(options)
        var start: Date?
        if let since {
            guard let parsed = Timestamp.date(since) ?? Timestamp.date(since + "T00:00:00.000Z") ?? ISO8601DateFormatter().date(from: since) else {
                CLI.err("--since \(since): expected a UTC date (2026-11-01) or time (2026-11-01T08:00:00Z)")
                throw ExitCode(1)
            }
            start = parsed
        }
        let store = try await CLI.openStore(config, .existing)
        let report = try await CostReport.make(by: by, since: start, store: store)
        CLI.out(json ? try Reports.json(report) + "\n" : report.text)
    }
}
