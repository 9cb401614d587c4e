public import KeelCore
/// Everything Keel reads from `keel.yml`, with defaults filled in and paths made absolute.
///
/// Relative paths in the file resolve against the directory holding it, so the same file works
/// from any working directory:
///
/// ```swift
/// let config = try KeelConfig.load(path: "keel.yml")
/// print(config.forge.local.origin)   // /home/me/origin.git
/// print(config.scheduler.workers)    // 2
/// print(config.alerts.publicURL)      // http://127.0.0.1:8765
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
    /// The signed audit ledger: its key, checkpoints, break decisions and backup.
    public var ledger: Ledger
    /// Where chain-break alerts go, and the base of the links they carry.
    public var alerts: Alerts
    /// Error-classifier rules tried before the built-in ones (`classifier.rules`, default none).
    public var classifierRules: [Rule]
    /// Spending ceilings and the estimate reserved per claim (`budgets`); nil when no ceiling is set.
    public var budgets: BudgetPolicy?
    /// Prices per model for agents that report tokens but no cost (`pricing`, default empty).
    public var pricing: PricingTable
    /// How a branch is brought up to date with the base before it merges (`marshal`).
    public var marshal: Marshal
    /// The agent that decomposes epics (`planner.agent`, same keys as `agent`; default: `agent`).
    public var planner: Agent?

    /// Creates a configuration from already-resolved values; paths should be absolute.
    ///
    /// A `nil` `ledger` takes the defaults with the signing key at `ledger/signing-key.json` beside the
    /// store's database (for the default store, the path an omitted `ledger.key` resolves to), so a
    /// configuration built in code never writes a key relative to the working directory. A `nil`
    /// `alerts` takes the defaults with ``Alerts/publicURL`` derived from `server`.
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
        transcripts: String,
        ledger: Ledger? = nil,
        alerts: Alerts? = nil,
        classifierRules: [Rule] = [],
        budgets: BudgetPolicy? = nil,
        pricing: PricingTable = PricingTable(),
        marshal: Marshal = Marshal(),
        planner: Agent? = nil
    ) {
        self.marshal = marshal
        self.planner = planner
        self.classifierRules = classifierRules
        self.budgets = budgets
        self.pricing = pricing
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
        if let ledger {
            self.ledger = ledger
        } else if store.sqlite.hasPrefix("/") {
            self.ledger = Ledger(key: ConfigPath.resolve("ledger/signing-key.json", against: ConfigPath.parent(of: store.sqlite)))
        } else {
            self.ledger = Ledger()
        }
        self.alerts = alerts ?? Alerts(publicURL: Alerts.defaultPublicURL(for: server))
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
        /// Checks the merge gate requires besides those the forge reports (`ci.required`, default none):
        /// a required check that has not registered yet is waited for, never taken as passed.
        public var required: [String]
        /// How long to wait for required checks to register and finish (`ci.wait_seconds`, default 1800).
        public var waitSeconds: Int
        /// How often to look again while waiting (`ci.poll_seconds`, default 15).
        public var pollSeconds: Int

        /// Creates CI settings; the defaults are those of an omitted `ci:` section.
        public init(commands: [Command] = [], timeoutSeconds: Int = 600, required: [String] = [], waitSeconds: Int = 1800, pollSeconds: Int = 15) {
            self.commands = commands
            self.timeoutSeconds = timeoutSeconds
            self.required = required
            self.waitSeconds = waitSeconds
            self.pollSeconds = pollSeconds
        }
    }

    /// Pre-merge inspection (`inspect:`).
    public struct Inspect: Sendable, Equatable {
        /// Deterministic checks run before merge (`inspect.checks`, default none).
        public var checks: [Command]
        /// The reviewer agent run after the checks pass (`inspect.reviewer`, same keys as `agent`;
        /// default none: the checks alone decide).
        public var reviewer: Agent?
        /// An APPROVE with a lower confidence goes to a person, review-ready (`inspect.min_confidence`, default 0).
        public var minConfidence: Double

        /// Creates inspection settings.
        public init(checks: [Command] = [], reviewer: Agent? = nil, minConfidence: Double = 0) {
            self.checks = checks
            self.reviewer = reviewer
            self.minConfidence = minConfidence
        }
    }

    /// The marshal (`marshal:`): before merging, the branch is brought up to date with the base;
    /// conflicts go to the conflict-resolution agent when one is set, back to develop otherwise.
    public struct Marshal: Sendable, Equatable {
        /// The conflict-resolution agent (`marshal.agent`, same keys as `agent`; default none).
        public var agent: Agent?
        /// A resolution scoring below this goes to a person (`marshal.min_confidence`, default 0.9).
        public var minConfidence: Double

        public init(agent: Agent? = nil, minConfidence: Double = 0.9) {
            self.agent = agent
            self.minConfidence = minConfidence
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
        /// Where agents borrow their access token (`agent.token_broker`, default none: the agent
        /// uses whatever credential its own environment gives it).
        public var tokenBroker: TokenBrokerSettings?
        /// The model the agent runs, for pricing when its output does not name one (`agent.model`;
        /// Codex's `--json` never does). Keel does not pass it to the agent: put it in `command` too.
        public var model: String?

        /// Creates agent settings; a `nil` command or prompt takes the kind's default.
        public init(
            kind: AgentKind,
            command: [String]? = nil,
            prompt: PromptMode? = nil,
            env: [String: String] = [:],
            timeouts: AgentTimeouts = AgentTimeouts(),
            tokenBroker: TokenBrokerSettings? = nil,
            model: String? = nil
        ) {
            self.model = model
            self.kind = kind
            self.command = command ?? ConfigTemplate.defaultCommand(for: kind)
            self.prompt = prompt ?? ConfigTemplate.defaultPromptMode(for: kind)
            self.env = env
            self.timeouts = timeouts
            self.tokenBroker = tokenBroker
        }
    }

    /// The token broker (`agent.token_broker`): `keel run` holds the credential file's refresh
    /// token alone, refreshes before lending, and each agent run gets a current access token in its
    /// environment.
    public struct TokenBrokerSettings: Sendable, Equatable {
        /// Absolute path of the credentials file holding the refresh token (`credentials`).
        public var credentials: String
        /// Its shape (`layout`: `claude-code`, the default, or `oauth`).
        public var layout: CredentialsFile.Layout
        /// The OAuth token endpoint (`token_url`).
        public var tokenURL: String
        /// The OAuth client id (`client_id`, may be empty).
        public var clientID: String
        /// The `scope` parameter (`scope`, default none).
        public var scope: String?
        /// How the refresh request is encoded (`body`: `form`, the default, or `json`).
        public var body: HTTPTokenRefresher.Configuration.BodyEncoding
        /// A token with less than this left is refreshed before it is lent (`minimum_lifetime_seconds`, default 300).
        public var minimumLifetimeSeconds: Int
        /// The variable the token reaches the agent in (`variable`; default `CLAUDE_CODE_OAUTH_TOKEN`
        /// for claude-code, `KEEL_ACCESS_TOKEN` for other agents).
        public var variable: String?

        /// Creates token broker settings; `credentials` should be absolute.
        public init(
            credentials: String, layout: CredentialsFile.Layout = .claudeCode, tokenURL: String, clientID: String, scope: String? = nil,
            body: HTTPTokenRefresher.Configuration.BodyEncoding = .form, minimumLifetimeSeconds: Int = 300, variable: String? = nil
        ) {
            self.credentials = credentials
            self.layout = layout
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.scope = scope
            self.body = body
            self.minimumLifetimeSeconds = minimumLifetimeSeconds
            self.variable = variable
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
        /// The name of the environment variable holding the token that state-changing HTTP requests
        /// (such as a decision on a chain break's page) must present (`admin_token_env`, default `KEEL_ADMIN_TOKEN`).
        public var adminTokenEnv: String
        /// The base URL people reach this server at, for the links in alerts; `http://` or `https://`,
        /// no trailing slash (`public_url`, or the older `alerts.public_url`). `nil`, the default, means
        /// the address the server really listens on (with `port` 0, the port it picked).
        public var publicURL: String?

        /// Creates server settings; the defaults are those of an omitted section.
        public init(host: String = "127.0.0.1", port: Int = 8765, adminTokenEnv: String = "KEEL_ADMIN_TOKEN", publicURL: String? = nil) {
            self.host = host
            self.port = port
            self.adminTokenEnv = adminTokenEnv
            self.publicURL = publicURL
        }
    }

    /// The signed audit ledger (`ledger:`).
    ///
    /// ```swift
    /// let ledger = KeelConfig.Ledger(key: "/srv/app/.keel/ledger/signing-key.json", checkpointEvery: 500)
    /// ```
    public struct Ledger: Sendable, Equatable {
        /// Path of the Ed25519 signing key, created with mode 0600 on first use (`key`, default
        /// `.keel/ledger/signing-key.json`; absolute once loaded from `keel.yml`).
        public var key: String
        /// Events between two signed checkpoints, at least 1 (`checkpoint_every`, default 1000).
        public var checkpointEvery: Int
        /// The longest time between two checkpoints, in seconds, at least 1 (`checkpoint_seconds`, default 3600).
        public var checkpointSeconds: Int
        /// How long a person has to decide on a chain break before `timeout_no_action` is stamped,
        /// in hours, at least 1 (`decision_hours`, default 72).
        public var decisionHours: Int
        /// The git repository the ledger is copied to (`backup`); `nil`, the default, means no backup.
        public var backup: LedgerBackupConfig?
        /// The base64 Ed25519 public key the chain starts with (`public_key`): pins the genesis key,
        /// which is otherwise read from the genesis file next to the signing key; `nil` by default.
        public var publicKey: String?

        /// Creates ledger settings; the defaults are those of an omitted section (the default `key` is
        /// relative: pass an absolute path, as loading does).
        public init(
            key: String = ".keel/ledger/signing-key.json",
            checkpointEvery: Int = 1000,
            checkpointSeconds: Int = 3600,
            decisionHours: Int = 72,
            backup: LedgerBackupConfig? = nil,
            publicKey: String? = nil
        ) {
            self.key = key
            self.publicKey = publicKey
            self.checkpointEvery = checkpointEvery
            self.checkpointSeconds = checkpointSeconds
            self.decisionHours = decisionHours
            self.backup = backup
        }
    }

    /// Where the ledger is backed up (`ledger.backup`).
    ///
    /// ```swift
    /// let backup = KeelConfig.LedgerBackupConfig(remote: "git@backup.example.com:keel/ledger.git")
    /// ```
    public struct LedgerBackupConfig: Sendable, Equatable {
        /// Absolute path of the repository, or a URL (containing `://`) or scp-style address
        /// (`user@host:path`) kept exactly as written (`remote`, required in the section).
        public var remote: String
        /// The branch the ledger is pushed to (`branch`, default `keel-ledger`).
        public var branch: String

        /// Creates backup settings; `remote` should be an absolute path, a URL or an scp-style address.
        public init(remote: String, branch: String = "keel-ledger") {
            self.remote = remote
            self.branch = branch
        }
    }

    /// Where alerts about chain breaks go (`alerts:`). Each channel is optional; every configured one
    /// is alerted. Secrets are not part of the configuration: each `...Env` property names the
    /// environment variable that holds one.
    ///
    /// ```swift
    /// let alerts = KeelConfig.Alerts(
    ///     publicURL: "https://keel.example.com",
    ///     slack: KeelConfig.Slack()
    /// )
    /// ```
    public struct Alerts: Sendable, Equatable {
        /// The base URL of Keel's server as people reach it, for the links in alerts; starts with
        /// `http://` or `https://`, no trailing slash (`public_url`, default `http://<server.host>:<server.port>`).
        public var publicURL: String
        /// A Telegram chat (`telegram`), or `nil`.
        public var telegram: Telegram?
        /// Email through an SMTP server (`email`), or `nil`.
        public var email: Email?
        /// A Slack incoming webhook (`slack`), or `nil`.
        public var slack: Slack?
        /// A generic HTTP webhook (`webhook`), or `nil`.
        public var webhook: Webhook?

        /// Creates alert settings; the defaults are those of an omitted section with the default server.
        public init(
            publicURL: String = "http://127.0.0.1:8765",
            telegram: Telegram? = nil,
            email: Email? = nil,
            slack: Slack? = nil,
            webhook: Webhook? = nil
        ) {
            self.publicURL = publicURL
            self.telegram = telegram
            self.email = email
            self.slack = slack
            self.webhook = webhook
        }

        /// The `public_url` used when none is written: `http://<host>:<port>` of `server`, with an IPv6
        /// address in brackets.
        ///
        /// With `port` 0 the server picks its port at start, which this cannot know: set `public_url` then.
        public static func defaultPublicURL(for server: Server) -> String {
            server.publicURL ?? listeningURL(host: server.host, port: server.port)
        }

        /// `http://<host>:<port>`, with an IPv6 address in brackets: the address a server listens on.
        public static func listeningURL(host: String, port: Int) -> String {
            let host = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            return "http://\(host):\(port)"
        }
    }

    /// Alerts to a Telegram chat through the Bot API (`alerts.telegram`).
    public struct Telegram: Sendable, Equatable {
        /// The name of the environment variable holding the bot's token (`bot_token_env`, default `KEEL_TELEGRAM_BOT_TOKEN`).
        public var botTokenEnv: String
        /// The chat: a numeric id (`-100…` for groups and channels) or `@channelusername`, as text (`chat_id`, required).
        public var chatID: String
        /// The Bot API server, without a trailing slash (`api_base`, default `https://api.telegram.org`).
        public var apiBase: String

        /// Creates Telegram settings.
        public init(botTokenEnv: String = "KEEL_TELEGRAM_BOT_TOKEN", chatID: String, apiBase: String = "https://api.telegram.org") {
            self.botTokenEnv = botTokenEnv
            self.chatID = chatID
            self.apiBase = apiBase
        }
    }

    /// How the connection to the SMTP server is protected (`alerts.email.security`).
    public enum EmailSecurity: String, Sendable, Equatable, CaseIterable {
        /// STARTTLS, required: the session stops if the server does not offer it.
        case startTLS = "starttls"
        /// Plain TCP: only for a relay on a trusted network.
        case none
    }

    /// Alerts by email through an SMTP server (`alerts.email`).
    public struct Email: Sendable, Equatable {
        /// The SMTP server (`host`, required).
        public var host: String
        /// The SMTP port, 1...65535 (`port`, default 587).
        public var port: Int
        /// The sender address, containing `@` (`from`, required).
        public var from: String
        /// The recipients, at least one, each containing `@` (`to`, required).
        public var to: [String]
        /// The user to authenticate as (`username`); `nil`, the default, sends without authenticating.
        public var username: String?
        /// The name of the environment variable holding the password, read only when `username` is set
        /// (`password_env`, default `KEEL_SMTP_PASSWORD`).
        public var passwordEnv: String
        /// How the connection is protected (`security`, default `starttls`).
        public var security: EmailSecurity

        /// Creates email settings.
        public init(
            host: String,
            port: Int = 587,
            from: String,
            to: [String],
            username: String? = nil,
            passwordEnv: String = "KEEL_SMTP_PASSWORD",
            security: EmailSecurity = .startTLS
        ) {
            self.host = host
            self.port = port
            self.from = from
            self.to = to
            self.username = username
            self.passwordEnv = passwordEnv
            self.security = security
        }
    }

    /// Alerts to a Slack incoming webhook (`alerts.slack`).
    public struct Slack: Sendable, Equatable {
        /// The name of the environment variable holding the webhook URL, which is itself a secret
        /// (`webhook_url_env`, default `KEEL_SLACK_WEBHOOK_URL`).
        public var webhookURLEnv: String

        /// Creates Slack settings; the default is that of `slack: {}`.
        public init(webhookURLEnv: String = "KEEL_SLACK_WEBHOOK_URL") {
            self.webhookURLEnv = webhookURLEnv
        }
    }

    /// Alerts posted as JSON to any HTTP endpoint (`alerts.webhook`).
    public struct Webhook: Sendable, Equatable {
        /// Where to post, starting with `http://` or `https://` (`url`, required).
        public var url: String
        /// The name of the environment variable holding the secret the body is signed with (HMAC);
        /// `nil`, the default, sends unsigned (`secret_env`).
        public var secretEnv: String?

        /// Creates webhook settings.
        public init(url: String, secretEnv: String? = nil) {
            self.url = url
            self.secretEnv = secretEnv
        }
    }
}

extension KeelConfig {
    /// Default locations, relative to the directory holding `keel.yml`.
    /// What a claim reserves when `budgets.estimate_usd` is not set: $1.00.
    public static let defaultBudgetEstimate: Micros = 1_000_000

    enum DefaultPath {
        static let sqlite = ".keel/keel.sqlite"
        static let workspaces = ".keel/workspaces"
        static let transcripts = ".keel/transcripts"
        static let ledgerKey = ".keel/ledger/signing-key.json"
    }
}
