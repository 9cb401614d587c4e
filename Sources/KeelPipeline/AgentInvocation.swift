import Foundation
import KeelAgents
import KeelCore

/// How the configured agent is started for one task: the command line, how the prompt reaches
/// it, and its environment.
struct AgentInvocation {
    var name: String
    var executable: String
    var arguments: [String]
    var promptMode: KeelConfig.PromptMode
    var environment: [String: String]
    /// How the agent's output is read: Claude Code stream-json for the claude-code and sample
    /// agents and for command agents (which may end with a result line), each CLI's own otherwise.
    var format: AgentFormat

    /// The agent's settings (`agent`, or `inspect.reviewer`).
    var agent: KeelConfig.Agent

    init(config: KeelConfig, sampleAgentCommand: [String], baseDirectory: String) throws(PipelineError) {
        try self.init(agent: config.agent, sampleAgentCommand: sampleAgentCommand, baseDirectory: baseDirectory)
    }

    init(agent: KeelConfig.Agent, sampleAgentCommand: [String], baseDirectory: String) throws(PipelineError) {
        self.agent = agent
        var command = agent.command.isEmpty ? ConfigTemplate.defaultCommand(for: agent.kind) : agent.command
        if agent.kind == .sample && agent.command.isEmpty { command = sampleAgentCommand }
        guard let first = command.first, !first.isEmpty else {
            throw PipelineError(
                .agentMisconfigured,
                "agent.command is empty for agent kind \(agent.kind.rawValue): set agent.command in keel.yml to the executable and its arguments")
        }
        name = agent.kind.rawValue
        executable = first
        arguments = Array(command.dropFirst())
        promptMode = agent.prompt
        environment = agent.env
        format = Self.format(of: agent.kind)
        // A relative executable ("./agent.sh") is relative to keel.yml, not to the worker's clone.
        if first.hasPrefix("./") || first.hasPrefix("../") {
            executable = URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: baseDirectory, isDirectory: true))
                .standardizedFileURL.path
        }
    }

    /// The output format of an agent kind.
    static func format(of kind: KeelConfig.AgentKind) -> AgentFormat {
        switch kind {
        case .claudeCode, .sample, .command: .claudeCode
        case .codex: .codex
        case .gemini: .gemini
        case .aider: .aider
        }
    }

    /// The cost event of a run: the reported cost, else priced from `pricing` with the result's
    /// model (or `agent.model`), else unpriced at $0.
    func costEvent(_ result: AgentResult, config: KeelConfig) -> CostEvent {
        let model = result.model ?? agent.model
        var cost = result.costMicros
        var source = CostSource.reported
        if cost == nil {
            cost = format.price(result, with: config.pricing, fallbackModel: agent.model)
            source = cost == nil ? .unpriced : .priced
        }
        return CostEvent(
            model: model, turns: result.turns, inputTokens: result.inputTokens, outputTokens: result.outputTokens,
            cacheReadTokens: result.cacheReadTokens, cacheWriteTokens: result.cacheWriteTokens, costMicros: cost ?? 0, source: source)
    }

    /// The process to run for `item` in `workspace`.
    func spec(
        item: WorkItem, workspace: String, taskPath: String, historyPath: String, promptPath: String, prompt: String,
        transcriptPath: String, config: KeelConfig
    ) -> ProcessSpec {
        var args = arguments
        var stdin: String? = nil
        switch promptMode {
        case .stdin: stdin = prompt
        case .argument: args.append(prompt)
        case .file: args.append(promptPath)
        }
        var env = environment
        env["KEEL_ITEM_ID"] = String(item.id)
        env["KEEL_ATTEMPT"] = String(item.attempt)
        env["KEEL_TASK_FILE"] = taskPath
        env["KEEL_HISTORY_FILE"] = historyPath
        env["KEEL_PROMPT_FILE"] = promptPath
        env["KEEL_WORKSPACE"] = workspace
        return ProcessSpec(
            executable: executable, arguments: args, environment: env, workingDirectory: workspace, standardInput: stdin,
            wallClockLimit: .seconds(agent.timeouts.wallClockSeconds),
            inactivityLimit: .seconds(agent.timeouts.inactivitySeconds), transcriptPath: transcriptPath)
    }

    /// The command line as recorded in `agent_runs.command` (the prompt itself is recorded by its hash).
    var commandLine: String {
        ([executable] + arguments).map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}
