import ArgumentParser
import Foundation
import KeelCore
import KeelGit
import KeelPipeline
import KeelStore

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a sample project and take four issues through Keel, on embedded defaults.",
        discussion: """
            Creates DIR with a bare git origin, keel.yml and a SQLite store, files four issues (one straight through, one \
            that fails CI once, one that waits on another, one whose agent hangs), runs the scheduler until each is merged \
            or waiting for a person, and prints a summary.
            """)

    @Option(help: "Where to build the sample project.") var dir: String = "keel-demo"
    @Flag(help: "Replace DIR if it exists and is not empty.") var force = false

    func run() async throws {
        let fm = FileManager.default
        let cwd = fm.currentDirectoryPath
        let target = URL(fileURLWithPath: dir, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        let contents = (try? fm.contentsOfDirectory(atPath: target)) ?? []
        if !contents.isEmpty {
            guard force else {
                CLI.err("\(target) exists and is not empty: pass --force to replace it, or --dir to choose another directory")
                throw ExitCode(1)
            }
            let home = ProcessInfo.processInfo.environment["HOME"] ?? "/"
            guard target != "/", target != home, target != cwd, !cwd.hasPrefix(target + "/") else {
                CLI.err("refusing to replace \(target): it holds your home or working directory; choose another --dir")
                throw ExitCode(1)
            }
            try fm.removeItem(atPath: target)
        }

        CLI.out("Building the sample project in \(target)\n")
        let configPath = try await DemoProject.create(in: target)
        let config = try CLI.loadConfig(path: configPath)
        let store = try await CLI.openStore(config, .create(newStore: false))
        let environment = PipelineEnvironment.standard(
            config: config, configDirectory: target, store: store, sampleAgentCommand: CLI.sampleAgentCommand, events: CLI.printer)
        CLI.out("  origin:   \(config.forge.local.origin) (base \(config.forge.local.base))\n")
        CLI.out("  store:    \(config.store.sqlite)\n  config:   \(configPath)\n\nFiling issues:\n")
        var ids: [Int64] = []
        for issue in DemoProject.issues {
            let item = try await store.createItem(
                NewItem(
                    tenant: config.tenant, repo: config.project, title: issue.title, body: issue.body,
                    dependsOn: issue.dependsOn.map { ids[$0] }),
                actor: "demo", now: Date())
            ids.append(item.id)
            CLI.out("  #\(item.id) \(item.title) (\(item.state.rawValue)): \(issue.shows)\n")
        }
        CLI.out("\nRunning the scheduler with \(config.scheduler.workers) workers until every item is merged or waits for a person:\n")
        try await Scheduler(environment: environment).runUntilSettled()

        CLI.out("\nSummary\n=======\n")
        let summaries = try await Reports.summaries(store: store)
        for summary in summaries {
            if let detail = try await Reports.detail(summary.id, store: store) { CLI.out(Reports.text(detail) + "\n") }
        }
        CLI.out(Reports.table(summaries))
        let merged = summaries.filter { $0.state == ItemState.merged.rawValue }.count
        let waiting = summaries.filter { $0.state == ItemState.needsHuman.rawValue || $0.state == ItemState.failed.rawValue }.count
        let total = summaries.reduce(Int64(0)) { $0 + $1.costMicros }
        let log = try await Git().run(["log", "--oneline", "--graph", config.forge.local.base], in: config.forge.local.origin)
        let ledgerEvents = try await store.ledgerCount()
        let ledgerStatus = try await store.ledgerStatus(now: Date())
        CLI.out(
            """

            \(merged) merged, \(waiting) waiting for a person, \(Money.format(total)) spent.
            Audit ledger: \(ledgerEvents) signed events, \(ledgerStatus.rawValue) (`keel ledger verify --config \(configPath)`).
            The origin's \(config.forge.local.base) now reads:
            \(log)
            Look around:
              swift run keel status --config \(configPath)
              swift run keel status 4 --config \(configPath)
              sqlite3 \(config.store.sqlite) 'SELECT item_id, from_state, to_state, reason FROM state_transitions'
              swift run keel run --config \(configPath)   # the resident scheduler and its HTTP API

            """)
    }
}

struct SampleAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-agent", abstract: "The demo's scripted agent (prints Claude Code stream-json).", shouldDisplay: false)

    func run() async throws {
        let prompt = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let code = await SampleAgent().run(environment: ProcessInfo.processInfo.environment, prompt: prompt) { line in
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        if code != 0 { throw ExitCode(code) }
    }
}
