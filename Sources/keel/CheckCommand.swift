import ArgumentParser
import Foundation
import KeelPipeline

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check keel.yml against this machine before any item is spent.",
        discussion: """
            Checks that the agent's program exists and is executable, the origin is reachable and has the base branch, \
            the programs of the CI and inspect commands exist, every environment variable named for a secret is set, \
            and the port is free. Prints one line per problem (the key, what is wrong, what to do) and exits 1 when \
            there is any; `keel run` runs the same checks at startup.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "Check this port instead of server.port (0 skips the check).") var port: Int?

    func run() async throws {
        let config = try CLI.loadConfig(options)
        try await CLI.requireNoProblems(config, options, port: port) { "\($0) in \(options.absolutePath); fix them, then run `keel check` again" }
        CLI.out(
            "keel: \(options.absolutePath) is ready: agent \(config.agent.kind.rawValue), origin \(config.forge.local.origin) "
                + "(\(config.forge.local.base)), \(config.ci.commands.count) CI command(s)\n")
    }
}
