import Foundation
public import KeelAgents
public import KeelCore
public import KeelForge
public import KeelGit
public import KeelStore

/// Everything the engine works with, passed in so tests can swap the clock or the forge.
public struct PipelineEnvironment: Sendable {
    public var config: KeelConfig
    public var store: any Store
    public var forge: any Forge
    public var git: Git
    public var runner: ProcessRunner
    public var clock: any WallClock
    /// Uniform in 0..<1, for backoff jitter.
    public var random: @Sendable () -> Double
    /// How to start the built-in sample agent (`keel sample-agent`).
    public var sampleAgentCommand: [String]
    public var events: PipelineEventSink
    /// The directory holding keel.yml: relative agent commands resolve against it.
    public var configDirectory: String
    /// Whether the CI gate counts the declared checks (always, in production). Only the test that
    /// replays incident 3 turns it off, to show the observed snapshot alone merges too early.
    public var gateIncludesDeclared = true
    /// Decides transient, wait or permanent for every failure the pipeline meets.
    public var classifier = ErrorClassifier()
    /// The `keel` executable the pre-push guard hook calls; the guard is installed in every worker
    /// clone when it is set (the CLI always sets it).
    public var keelExecutable: String?
    /// Where agent runs borrow their access token (`agent.token_broker`); nil: agents use the
    /// credentials of their own environment.
    public var tokens: (any AgentTokenSource)?
    /// Keel's own environment. Agents get an allowlisted part of it (`AgentEnvironment`), and the
    /// values of the variables keel.yml names as secrets are redacted from their output.
    public var processEnvironment: [String: String] = ProcessInfo.processInfo.environment

    public init(
        config: KeelConfig, configDirectory: String, store: any Store, forge: any Forge, git: Git = Git(), runner: ProcessRunner = ProcessRunner(),
        clock: any WallClock = SystemWallClock(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        sampleAgentCommand: [String] = [], events: PipelineEventSink = .none
    ) {
        self.config = config
        self.store = store
        self.forge = forge
        self.git = git
        self.runner = runner
        self.clock = clock
        self.random = random
        self.sampleAgentCommand = sampleAgentCommand
        self.events = events
        self.configDirectory = configDirectory
    }

    /// The standard wiring for a `keel.yml`: its SQLite store (opened by the caller, with the
    /// ledger) and the local forge.
    public static func standard(
        config: KeelConfig, configDirectory: String, store: SQLiteStore, sampleAgentCommand: [String], events: PipelineEventSink
    ) -> PipelineEnvironment {
        let forge = LocalForge(
            originURL: config.forge.local.origin, baseBranch: config.forge.local.base,
            ciCommands: config.ci.commands.map { CICommand(name: $0.name, run: $0.run) },
            ciTimeout: .seconds(config.ci.timeoutSeconds), workRoot: config.workspaces + "/.forge")
        var environment = PipelineEnvironment(
            config: config, configDirectory: configDirectory, store: store, forge: forge, sampleAgentCommand: sampleAgentCommand,
            events: events)
        environment.keelExecutable = sampleAgentCommand.first
        environment.classifier = ErrorClassifier(extraRules: config.classifierRules)
        return environment
    }
}
