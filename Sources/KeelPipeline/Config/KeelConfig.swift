/// Everything Keel reads from `keel.yml`, with defaults filled in and paths made absolute.
///
/// Relative paths in the file resolve against the directory holding it, so the same file works
/// from any working directory:
///
/// ```swift
/// let config = try KeelConfig.load(path: "keel.yml")
/// print(config.forge.local.origin)   // /home/me/origin.git
/// print(config.scheduler.workers)    // 2
/// ```
///
/// `ConfigTemplate.render(agent:origin:base:ciCommands:)` writes the commented file that
/// `keel init` starts people with.
public struct KeelConfig: Sendable, Equatable {
    /// The project's name in reports and the dashboard; defaults to the name of the directory holding `keel.yml`.
    public var project: String
    /// Who agent costs are attributed to (`cost_events.tenant`); defaults to `default`.
    public var tenant: String
    /// Where Keel keeps its state.
    public var store: Store
    /// Where issues come from and pull requests go.
    public var forge: Forge
    /// Commands run against each pushed change before it may merge.
    public var ci: CI
    /// Deterministic checks run before merge.
    public var inspect: Inspect
    /// The coding agent and how to run it.
    public var agent: Agent
    /// How many workers run, and how failures are retried.
    public var scheduler: Scheduler
    /// The HTTP server (API, webhooks, dashboard).
    public var server: Server
    /// Absolute path of the directory holding the workers' clones.
    public var workspaces: String
    /// Absolute path of the directory holding agent transcripts.
    public var transcripts: String

    /// Creates a configuration from already-resolved values; paths should be absolute.
    public init(
        project: String,
        tenant: String = "default",
        store: Store,
        forge: Forge,
        ci: CI = CI(),
        inspect: Inspect = Inspect(),
        agent: Agent,
        scheduler: Scheduler = Scheduler(),
        server: Server = Server(),
        workspaces: String,
        transcripts: String
    ) {
        self.project = project
        self.tenant = tenant
        self.store = store
        self.forge = forge
        self.ci = ci
        self.inspect = inspect
        self.agent = agent
        self.scheduler = scheduler
        self.server = server
        self.workspaces = workspaces
        self.transcripts = transcripts
    }
}

extension KeelConfig {
    /// Keel's own storage (`store:`).
    public struct Store: Sendable, Equatable {
        /// Absolute path of the SQLite database (`store.sqlite`, default `.keel/keel.sqlite`).
        public var sqlite: String

        /// Creates store settings; `sqlite` should be absolute.
        public init(sqlite: String) {
            self.sqlite = sqlite
        }
    }

    /// The forge Keel works against (`forge:`). Only a local forge exists for now.
    public struct Forge: Sendable, Equatable {
        /// A bare git repository on this machine, with CI run locally (`forge.local`).
        public var local: LocalForge

        /// Creates forge settings.
        public init(local: LocalForge) {
            self.local = local
        }
    }

    /// A bare git repository on this machine (`forge.local`).
    public struct LocalForge: Sendable, Equatable {
        /// Absolute path of the bare origin, or a URL (anything containing `://`) kept exactly as written.
        public var origin: String
        /// The branch changes are merged into (`forge.local.base`, default `main`).
        public var base: String

        /// Creates local forge settings; `origin` should be an absolute path or a URL.
        public init(origin: String, base: String = "main") {
            self.origin = origin
            self.base = base
        }
    }

    /// A named shell command: a CI command or an inspect check.
    ///
    /// In `keel.yml` either a string (`- sh tests/run.sh`, named after itself) or
    /// `{name: lint, run: sh lint.sh}`.
    public struct Command: Sendable, Equatable {
        /// The name shown in reports and used as the gate's check name; unique within its list.
        public var name: String
        /// The shell command line.
        public var run: String

        /// Creates a command.
        public init(name: String, run: String) {
            self.name = name
            self.run = run
        }
    }

    /// Continuous integration (`ci:`).
    public struct CI: Sendable, Equatable {
        /// Commands that must all pass (`ci.commands`, default none).
        public var commands: [Command]
        /// How long one command may run before it fails (`ci.timeout_seconds`, default 600).
        public var timeoutSeconds: Int

        /// Creates CI settings; the defaults are those of an omitted `ci:` section.
        public init(commands: [Command] = [], timeoutSeconds: Int = 600) {
            self.commands = commands
            self.timeoutSeconds = timeoutSeconds
        }
    }

    /// Pre-merge inspection (`inspect:`).
    public struct Inspect: Sendable, Equatable {
        /// Deterministic checks run before merge (`inspect.checks`, default none).
        public var checks: [Command]

        /// Creates inspection settings.
        public init(checks: [Command] = []) {
            self.checks = checks
        }
    }

    /// Which coding agent runs the work (`agent.kind`).
    public enum AgentKind: String, Sendable, Equatable, CaseIterable {
        /// Anthropic's Claude Code CLI.
        case claudeCode = "claude-code"
        /// OpenAI's Codex CLI.
        case codex
        /// Google's Gemini CLI.
        case gemini
        /// aider.
        case aider
        /// Any executable that follows Keel's agent contract (see `ConfigTemplate`).
        case command
        /// Keel's built-in sample agent, for trying the pipeline without a model.
        case sample
    }

    /// How the task prompt reaches the agent (`agent.prompt`).
    public enum PromptMode: String, Sendable, Equatable, CaseIterable {
        /// Written to the agent's standard input.
        case stdin
        /// Appended as the last argument.
        case argument
        /// Written to a file whose path is appended as the last argument.
        case file
    }

    /// The coding agent (`agent:`).
    public struct Agent: Sendable, Equatable {
        /// Which agent (`agent.kind`).
        public var kind: AgentKind
        /// The executable and its arguments: `agent.command`, or `ConfigTemplate.defaultCommand(for: kind)`
        /// when omitted (empty for `sample`, whose runner the pipeline supplies).
        public var command: [String]
        /// How the prompt is delivered: `agent.prompt`, or `ConfigTemplate.defaultPromptMode(for: kind)` when omitted.
        public var prompt: PromptMode
        /// Extra environment for the agent process (`agent.env`, default none).
        public var env: [String: String]
        /// When a run is stopped.
        public var timeouts: AgentTimeouts

        /// Creates agent settings; a `nil` command or prompt takes the kind's default.
        public init(
            kind: AgentKind,
            command: [String]? = nil,
            prompt: PromptMode? = nil,
            env: [String: String] = [:],
            timeouts: AgentTimeouts = AgentTimeouts()
        ) {
            self.kind = kind
            self.command = command ?? ConfigTemplate.defaultCommand(for: kind)
            self.prompt = prompt ?? ConfigTemplate.defaultPromptMode(for: kind)
            self.env = env
            self.timeouts = timeouts
        }
    }

    /// When an agent run is stopped (`agent.timeouts`).
    public struct AgentTimeouts: Sendable, Equatable {
        /// Total time one run may take (`wall_clock_seconds`, default 1800).
        public var wallClockSeconds: Int
        /// Time a run may go without output before it is presumed stuck (`inactivity_seconds`, default 300).
        public var inactivitySeconds: Int

        /// Creates agent timeouts; the defaults are those of an omitted section.
        public init(wallClockSeconds: Int = 1800, inactivitySeconds: Int = 300) {
            self.wallClockSeconds = wallClockSeconds
            self.inactivitySeconds = inactivitySeconds
        }
    }

    /// Work distribution and retries (`scheduler:`).
    public struct Scheduler: Sendable, Equatable {
        /// Work items processed at once, 1...64 (`workers`, default 2).
        public var workers: Int
        /// How long a claim on a work item lasts without renewal, at least 2 (`lease_seconds`, default 60).
        public var leaseSeconds: Int
        /// How often idle workers look for work (`poll_milliseconds`, default 500).
        public var pollMilliseconds: Int
        /// Failures with one signature before the item goes to `needs_human` (`breaker_threshold`, default 3).
        public var breakerThreshold: Int
        /// Delay between retries of transient failures.
        public var backoff: Backoff

        /// Creates scheduler settings; the defaults are those of an omitted section.
        public init(
            workers: Int = 2,
            leaseSeconds: Int = 60,
            pollMilliseconds: Int = 500,
            breakerThreshold: Int = 3,
            backoff: Backoff = Backoff()
        ) {
            self.workers = workers
            self.leaseSeconds = leaseSeconds
            self.pollMilliseconds = pollMilliseconds
            self.breakerThreshold = breakerThreshold
            self.backoff = backoff
        }
    }

    /// Capped, jittered exponential backoff (`scheduler.backoff`).
    public struct Backoff: Sendable, Equatable {
        /// The first retry's delay (`initial_seconds`, default 30).
        public var initialSeconds: Int
        /// The longest delay, at least `initialSeconds` (`max_seconds`, default 90).
        public var maxSeconds: Int
        /// Fraction of each delay that is randomized, 0...1 (`jitter`, default 0.5).
        public var jitter: Double

        /// Creates backoff settings; the defaults are those of an omitted section.
        public init(initialSeconds: Int = 30, maxSeconds: Int = 90, jitter: Double = 0.5) {
            self.initialSeconds = initialSeconds
            self.maxSeconds = maxSeconds
            self.jitter = jitter
        }
    }

    /// The HTTP server (`server:`).
    public struct Server: Sendable, Equatable {
        /// Address to listen on (`host`, default `127.0.0.1`).
        public var host: String
        /// Port to listen on, 0...65535, 0 picks a free one (`port`, default 8765).
        public var port: Int

        /// Creates server settings; the defaults are those of an omitted section.
        public init(host: String = "127.0.0.1", port: Int = 8765) {
            self.host = host
            self.port = port
        }
    }
}

extension KeelConfig {
    /// Default locations, relative to the directory holding `keel.yml`.
    enum DefaultPath {
        static let sqlite = ".keel/keel.sqlite"
        static let workspaces = ".keel/workspaces"
        static let transcripts = ".keel/transcripts"
    }
}
