public import ArgumentParser
import Foundation
import KeelAgents
import KeelCore
import KeelPipeline

extension AgentFormat: ExpressibleByArgument {}

/// `keel agent`: tools for wiring up an agent CLI.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Tools for wiring up a coding agent.", subcommands: [AgentParseCommand.self])
}

/// `keel agent parse`: what Keel reads from an agent's output.
struct AgentParseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parse",
        abstract: "Parse an agent CLI's output (stdin) into Keel's normalized result.",
        discussion: """
            Prints one JSON object: outcome (success, max_turns or error), is_error, turns, input_tokens, output_tokens, \
            cache_read_tokens, cache_write_tokens, cost_micros (reported, or priced from `pricing` in keel.yml when the \
            agent reports none; null when neither), model, session_id, error_class (transient, wait, permanent; null on \
            success) and message. Exit status 1 when the output holds no result at all (the agent stopped early, or the \
            format is not the one named). keel.yml is read for `pricing` and `agent.model` when it exists.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "The output's format: claude-code, codex, gemini or aider.") var format: AgentFormat
    @Option(help: "The model to price with when the output names none (default: agent.model in keel.yml).") var model: String?
    @Flag(help: "Print the object on one line.") var json = false

    func run() async throws {
        var pricing = PricingTable()
        var configuredModel: String?
        var rules: [Rule] = []
        if FileManager.default.fileExists(atPath: options.absolutePath) {
            let config = try CLI.loadConfig(options)
            pricing = config.pricing
            configuredModel = config.agent.model
            rules = config.classifierRules
        }
        var parser = format.makeParser()
        var count = 0
        let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            parser.consume(line: line.hasSuffix("\r") ? String(line.dropLast()) : String(line))
            if !line.allSatisfy(\.isWhitespace) { count += 1 }
        }
        guard let result = parser.finish() else {
            let lines = count == 0 ? "empty input" : "\(count) line(s) read"
            CLI.err(
                "no \(format.rawValue) result in the output (\(lines)): the agent stopped before it finished, "
                    + "or the output is not \(Self.expected(format)) (check --format)")
            throw ExitCode(1)
        }
        let normalized = NormalizedAgentResult(
            result, format: format, pricing: pricing, model: model ?? configuredModel,
            classifier: ErrorClassifier(extraRules: rules, timeZone: .current), now: Date())
        CLI.out(normalized.json(compact: json) + "\n")
    }

    static func expected(_ format: AgentFormat) -> String {
        switch format {
        case .claudeCode: "`claude -p --output-format stream-json --verbose` output"
        case .codex: "`codex exec --json` output"
        case .gemini: "`gemini -o stream-json` output"
        case .aider: "aider's text output"
        }
    }
}
