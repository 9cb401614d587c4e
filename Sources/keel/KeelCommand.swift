import ArgumentParser
import Foundation

/// The `keel` command line.
@main
struct KeelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keel",
        abstract: "Turns issues into merged pull requests with the coding agent you already run, safely and unattended.",
        discussion: "Start with `keel demo`. In your own repository: `keel init`, `keel check`, `keel submit`, `keel run`.",
        version: "keel \(keelVersion)",
        subcommands: [
            DemoCommand.self, InitCommand.self, CheckCommand.self, RunCommand.self, SubmitCommand.self, StatusCommand.self, RetryCommand.self,
            ReimplementCommand.self, CancelCommand.self, CostCommand.self, AgentCommand.self, LedgerCommand.self, GuardCommand.self, ClassifyCommand.self, SampleAgentCommand.self,
        ]
    )
}

/// This build's version, as `keel --version` prints it; raised with each release.
let keelVersion = "0.9.0"

/// `--config PATH`, shared by every command.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of keel.yml.")
    var config: String = "keel.yml"

    var absolutePath: String {
        URL(fileURLWithPath: config, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
            .standardizedFileURL.path
    }

    var directory: String { (absolutePath as NSString).deletingLastPathComponent }
}
