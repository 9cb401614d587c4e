import Foundation
import KeelCore
import KeelLedger
import Yams

extension KeelConfig {
    /// Reads and validates a `keel.yml`; relative paths in it resolve against the directory holding it.
    ///
    /// ```swift
    /// let config = try KeelConfig.load(path: "keel.yml")
    /// ```
    ///
    /// - Throws: `ConfigError` naming the file, line and key at fault; `.fileNotFound` suggests `keel init`.
    public static func load(path: String) throws(ConfigError) -> KeelConfig {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigError(code: .fileNotFound, file: path, message: "no such file; run `keel init` to create one")
        }
        guard !isDirectory.boolValue else {
            throw ConfigError(code: .unreadable, file: path, message: "is a directory; name the keel.yml file inside it")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigError(code: .unreadable, file: path, message: "cannot be read: \(error.localizedDescription)", cause: error)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(code: .unreadable, file: path, message: "is not UTF-8 text")
        }
        let absolute = ConfigPath.resolve(path, against: FileManager.default.currentDirectoryPath)
        return try parse(text, file: path, baseDirectory: ConfigPath.parent(of: absolute))
    }

    /// Validates the text of a `keel.yml` already in memory.
    ///
    /// ```swift
    /// let config = try KeelConfig.parse(text, file: "keel.yml", baseDirectory: "/srv/my-service")
    /// ```
    ///
    /// - Parameters:
    ///   - text: The YAML.
    ///   - file: How to name the file in errors, e.g. `keel.yml`.
    ///   - baseDirectory: The directory relative paths resolve against (the one holding the file);
    ///     itself resolved against the current directory if relative.
    /// - Throws: `ConfigError` naming the file, line and key at fault.
    public static func parse(_ text: String, file: String, baseDirectory: String) throws(ConfigError) -> KeelConfig {
        let base = ConfigPath.resolve(baseDirectory, against: FileManager.default.currentDirectoryPath)
        let reader = ConfigReader(base: base)
        let root = try ConfigSyntax.compose(text, file: file)
        return try reader.config(from: root)
    }
}

/// Turns the composed document into a `KeelConfig`, one section at a time, in file order of the schema.
private struct ConfigReader {
    let base: String

    func config(from root: ConfigNode) throws(ConfigError) -> KeelConfig {
        let top = try root.mapping(allowed: [
            "project", "tenant", "store", "forge", "ci", "inspect", "agent", "scheduler", "server", "workspaces", "transcripts",
            "ledger", "alerts", "classifier", "budgets", "pricing", "marshal", "planner",
        ])
        let project = try top.optional("project")?.nonEmptyText("a project name") ?? ConfigPath.lastComponent(of: base)
        let tenant = try top.optional("tenant")?.nonEmptyText("a tenant name") ?? "default"

        let storeSection = try top.section("store", allowed: ["sqlite"])
        let store = KeelConfig.Store(sqlite: try path(storeSection.optional("sqlite"), default: KeelConfig.DefaultPath.sqlite))

        let forge = try self.forge(top)
        let ci = try self.ci(top)
        let inspectSection = try top.section("inspect", allowed: ["checks", "reviewer", "min_confidence"])
        let inspect = KeelConfig.Inspect(
            checks: try commands(inspectSection.optional("checks")),
            reviewer: try inspectSection.optionalSection("reviewer", allowed: Self.agentKeys).map { section throws(ConfigError) in
                try agentSettings(section)
            },
            minConfidence: try inspectSection.optional("min_confidence")?.number(in: 0...1) ?? 0)
        let agent = try self.agent(top)
        let scheduler = try self.scheduler(top)
        var server = try self.server(top)
        let ledger = try self.ledger(top)
        let alerts = try self.alerts(top, server: &server)

        return KeelConfig(
            project: project,
            tenant: tenant,
            store: store,
            forge: forge,
            ci: ci,
            inspect: inspect,
            agent: agent,
            scheduler: scheduler,
            server: server,
            workspaces: try path(top.optional("workspaces"), default: KeelConfig.DefaultPath.workspaces),
            transcripts: try path(top.optional("transcripts"), default: KeelConfig.DefaultPath.transcripts),
            ledger: ledger,
            alerts: alerts,
            classifierRules: try classifierRules(top),
            budgets: try budgets(top),
            pricing: try pricing(top),
            marshal: try marshal(top),
            planner: try top.section("planner", allowed: ["agent"]).optionalSection("agent", allowed: Self.agentKeys).map {
                agent throws(ConfigError) in try agentSettings(agent)
            }
        )
    }

    /// `marshal`: the conflict-resolution agent and the confidence its resolution must reach.
    private func marshal(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.Marshal {
        let section = try top.section("marshal", allowed: ["agent", "min_confidence"])
        return KeelConfig.Marshal(
            agent: try section.optionalSection("agent", allowed: Self.agentKeys).map { agent throws(ConfigError) in try agentSettings(agent) },
            minConfidence: try section.optional("min_confidence")?.number(in: 0...1) ?? KeelConfig.Marshal().minConfidence)
    }

    /// `pricing`: model name → `{input, output, cache_read, cache_write}` in USD per million tokens.
    private func pricing(_ top: ConfigMapping) throws(ConfigError) -> PricingTable {
        guard let node = top.optional("pricing"), !node.isNull else { return PricingTable() }
        var prices: [String: ModelPrice] = [:]
        for (model, value) in try node.entries().ordered {
            guard !model.isEmpty else { throw value.error(.invalidValue, "a model name cannot be empty") }
            let price = try value.mapping(allowed: ["input", "output", "cache_read", "cache_write"])
            prices[model] = ModelPrice(
                inputPerMillion: try price.required("input", "USD per million input tokens, e.g. input: 3.00").usd(),
                outputPerMillion: try price.required("output", "USD per million output tokens, e.g. output: 15.00").usd(),
                cacheReadPerMillion: try price.optional("cache_read")?.usd(),
                cacheWritePerMillion: try price.optional("cache_write")?.usd())
        }
        return PricingTable(prices)
    }

    /// `budgets`: ceilings in USD per issue, repo and tenant, the period repo and tenant spend is
    /// counted over, and the estimate reserved per claim. Nil when no ceiling is set.
    private func budgets(_ top: ConfigMapping) throws(ConfigError) -> BudgetPolicy? {
        let section = try top.section("budgets", allowed: ["issue_usd", "repo_usd", "tenant_usd", "period", "estimate_usd"])
        let issue = try section.optional("issue_usd")?.usd()
        let repo = try section.optional("repo_usd")?.usd()
        let tenant = try section.optional("tenant_usd")?.usd()
        let period = try section.optional("period")?.choice(BudgetPolicy.Period.self, noun: "budget period") ?? .month
        let estimateNode = section.optional("estimate_usd")
        let estimate = try estimateNode?.usd() ?? KeelConfig.defaultBudgetEstimate
        for (ceiling, node) in [(issue, section.optional("issue_usd")), (repo, section.optional("repo_usd")), (tenant, section.optional("tenant_usd"))] {
            if let ceiling, let node, ceiling < estimate {
                throw node.expected("a ceiling of at least estimate_usd (\(Money.format(estimate))), or no work could ever be claimed")
            }
        }
        guard issue != nil || repo != nil || tenant != nil else { return nil }
        return BudgetPolicy(estimateMicros: estimate, issueMicros: issue, repoMicros: repo, tenantMicros: tenant, period: period)
    }

    /// `classifier.rules`: each `{name, class: transient|wait|permanent, contains: TEXT | regex: RE,
    /// retry_after_seconds: N (wait only)}`, tried in order before the built-in rules.
    private func classifierRules(_ top: ConfigMapping) throws(ConfigError) -> [Rule] {
        let section = try top.section("classifier", allowed: ["rules"])
        guard let node = section.optional("rules") else { return [] }
        var rules: [Rule] = []
        for item in try node.items() {
            let fields = try item.mapping(allowed: ["name", "class", "contains", "regex", "retry_after_seconds"])
            let name = try fields.required("name", "a rule name").nonEmptyText("a rule name")
            let errorClass = try fields.required("class", "transient, wait or permanent").choice(ErrorClass.self, noun: "class")
            let contains = fields.optional("contains")
            let regex = fields.optional("regex")
            guard (contains == nil) != (regex == nil) else {
                throw item.error(.invalidValue, "give exactly one of contains (a text) or regex (a regular expression)")
            }
            let retry = try fields.optional("retry_after_seconds")?.integer(in: 1...Int.max)
            do {
                if let contains {
                    rules.append(try Rule(name: name, class: errorClass, substring: try contains.nonEmptyText("a text"), retryAfterSeconds: retry))
                } else if let regex {
                    rules.append(try Rule(name: name, class: errorClass, regex: try regex.nonEmptyText("a regular expression"), retryAfterSeconds: retry))
                }
            } catch let error as CoreError {
                throw item.error(.invalidValue, error.message)
            } catch let error as ConfigError {
                throw error
            } catch {
                throw item.error(.invalidValue, "\(error)")
            }
        }
        return rules
    }

    private func forge(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.Forge {
        let forge = try top.required("forge", "the forge to work against, e.g. forge: {local: {origin: ../origin.git}}")
            .mapping(allowed: ["local"])
        let local = try forge.required("local", "a local bare repository, e.g. local: {origin: ../origin.git}")
            .mapping(allowed: ["origin", "base"])
        let expectedOrigin = "the path or file URL of the bare origin repository"
        let originText = try local.required("origin", expectedOrigin).nonEmptyText(expectedOrigin)
        // URLs pass through untouched: only a path can be made relative to keel.yml.
        let origin = originText.contains("://") ? originText : ConfigPath.resolve(originText, against: base)
        let branch = try local.optional("base")?.nonEmptyText("a branch name") ?? KeelConfig.LocalForge(origin: origin).base
        return KeelConfig.Forge(local: KeelConfig.LocalForge(origin: origin, base: branch))
    }

    private func ci(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.CI {
        let section = try top.section("ci", allowed: ["commands", "timeout_seconds", "required", "wait_seconds", "poll_seconds"])
        let defaults = KeelConfig.CI()
        var required: [String] = []
        if let node = section.optional("required") {
            for item in try node.items() { required.append(try item.nonEmptyText("a check name")) }
        }
        return KeelConfig.CI(
            commands: try commands(section.optional("commands")),
            timeoutSeconds: try section.optional("timeout_seconds")?.integer(in: 1...Int.max) ?? defaults.timeoutSeconds,
            required: required,
            waitSeconds: try section.optional("wait_seconds")?.integer(in: 1...Int.max) ?? defaults.waitSeconds,
            pollSeconds: try section.optional("poll_seconds")?.integer(in: 1...Int.max) ?? defaults.pollSeconds
        )
    }

    private func agent(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.Agent {
        let section = try top.required("agent", "the coding agent to run, e.g. agent: {kind: claude-code}")
            .mapping(allowed: Self.agentKeys + ["token_broker"])
        var agent = try agentSettings(section)
        agent.tokenBroker = try tokenBroker(section)
        return agent
    }

    static let agentKeys = ["kind", "command", "prompt", "env", "timeouts", "model"]

    /// An agent's settings: `agent`, or `inspect.reviewer`.
    private func agentSettings(_ section: ConfigMapping) throws(ConfigError) -> KeelConfig.Agent {
        let kinds = KeelConfig.AgentKind.allCases.map(\.rawValue).joined(separator: ", ")
        let kind = try section.required("kind", "one of \(kinds)").choice(KeelConfig.AgentKind.self, noun: "agent")

        let command: [String]?
        if kind == .command {
            // A bare `command` agent has nothing to run by default, so the executable must be named.
            command = try commandLine(section.required("command", "the agent's executable and arguments, e.g. command: [\"./keel-agent.sh\"]"))
        } else if let node = section.optional("command") {
            command = try commandLine(node)
        } else {
            command = nil
        }
        let prompt = try section.optional("prompt")?.choice(KeelConfig.PromptMode.self, noun: "prompt mode")

        var env: [String: String] = [:]
        if let node = section.optional("env") {
            for (name, value) in try node.entries().ordered {
                guard !name.isEmpty, !name.contains("="), !name.contains("\0") else {
                    throw value.error(.invalidValue, "\(ConfigTemplate.quoted(name)) cannot name an environment variable (empty, or contains \"=\")")
                }
                env[name] = try value.text()
            }
        }

        let timeoutsSection = try section.section("timeouts", allowed: ["wall_clock_seconds", "inactivity_seconds"])
        let defaults = KeelConfig.AgentTimeouts()
        let timeouts = KeelConfig.AgentTimeouts(
            wallClockSeconds: try timeoutsSection.optional("wall_clock_seconds")?.integer(in: 1...Int.max) ?? defaults.wallClockSeconds,
            inactivitySeconds: try timeoutsSection.optional("inactivity_seconds")?.integer(in: 1...Int.max) ?? defaults.inactivitySeconds
        )
        return KeelConfig.Agent(
            kind: kind, command: command, prompt: prompt, env: env, timeouts: timeouts,
            model: try section.optional("model")?.nonEmptyText("the model's name, as the pricing table names it"))
    }

    /// `agent.token_broker`: the credentials file and the OAuth endpoint that refreshes it.
    private func tokenBroker(_ agent: ConfigMapping) throws(ConfigError) -> KeelConfig.TokenBrokerSettings? {
        guard
            let section = try agent.optionalSection(
                "token_broker",
                allowed: ["credentials", "layout", "token_url", "client_id", "scope", "body", "minimum_lifetime_seconds", "variable"])
        else { return nil }
        let credentialsHint = "the credentials file holding the refresh token, e.g. credentials: ~/.claude/.credentials.json"
        let credentials = try section.required("credentials", credentialsHint).nonEmptyText(credentialsHint)
        let tokenURL = try section.required("token_url", "the OAuth token endpoint, e.g. token_url: https://auth.example.com/oauth/token")
            .httpURL()
        let defaults = KeelConfig.TokenBrokerSettings(credentials: "", tokenURL: tokenURL, clientID: "")
        return KeelConfig.TokenBrokerSettings(
            credentials: ConfigPath.resolve(credentials, against: base),
            layout: try section.optional("layout")?.choice(CredentialsFile.Layout.self, noun: "credentials layout") ?? defaults.layout,
            tokenURL: tokenURL,
            clientID: try section.required("client_id", "the OAuth client id the credential was issued to (\"\" for none)").text(),
            scope: try section.optional("scope")?.nonEmptyText("the OAuth scope to ask for"),
            body: try section.optional("body")?.choice(HTTPTokenRefresher.Configuration.BodyEncoding.self, noun: "request body encoding")
                ?? defaults.body,
            minimumLifetimeSeconds: try section.optional("minimum_lifetime_seconds")?.integer(in: 0...86_400)
                ?? defaults.minimumLifetimeSeconds,
            variable: try section.optional("variable")?.environmentVariableName()
        )
    }

    private func scheduler(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.Scheduler {
        let section = try top.section(
            "scheduler",
            allowed: ["workers", "lease_seconds", "poll_milliseconds", "breaker_threshold", "backoff"]
        )
        let defaults = KeelConfig.Scheduler()
        let workers = try section.optional("workers")?.integer(in: 1...64) ?? defaults.workers
        let lease = try section.optional("lease_seconds")?.integer(in: 2...Int.max) ?? defaults.leaseSeconds
        let poll = try section.optional("poll_milliseconds")?.integer(in: 1...Int.max) ?? defaults.pollMilliseconds
        let threshold = try section.optional("breaker_threshold")?.integer(in: 1...Int.max) ?? defaults.breakerThreshold

        let backoffSection = try section.section("backoff", allowed: ["initial_seconds", "max_seconds", "jitter"])
        let initialNode = backoffSection.optional("initial_seconds")
        let maxNode = backoffSection.optional("max_seconds")
        let initial = try initialNode?.integer(in: 1...Int.max) ?? defaults.backoff.initialSeconds
        let max = try maxNode?.integer(in: 1...Int.max) ?? defaults.backoff.maxSeconds
        if max < initial {
            if let maxNode {
                throw maxNode.expected("an integer of at least initial_seconds (\(initial))")
            } else if let initialNode {
                throw initialNode.expected("an integer of at most max_seconds (\(max))")
            }
        }
        let jitter = try backoffSection.optional("jitter")?.number(in: 0...1) ?? defaults.backoff.jitter

        return KeelConfig.Scheduler(
            workers: workers,
            leaseSeconds: lease,
            pollMilliseconds: poll,
            breakerThreshold: threshold,
            backoff: KeelConfig.Backoff(initialSeconds: initial, maxSeconds: max, jitter: jitter)
        )
    }

    private func server(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.Server {
        let section = try top.section(
            "server",
            allowed: ["host", "port", "admin_token_env", "public_url"],
            secrets: [SecretKey(name: "admin_token", envKey: "admin_token_env", example: "KEEL_ADMIN_TOKEN")]
        )
        let defaults = KeelConfig.Server()
        return KeelConfig.Server(
            host: try section.optional("host")?.nonEmptyText("a host name or address") ?? defaults.host,
            port: try section.optional("port")?.integer(in: 0...65535) ?? defaults.port,
            adminTokenEnv: try section.optional("admin_token_env")?.environmentVariableName() ?? defaults.adminTokenEnv,
            publicURL: try section.optional("public_url")?.httpURL(trimmingTrailingSlashes: true)
        )
    }

    private func ledger(_ top: ConfigMapping) throws(ConfigError) -> KeelConfig.Ledger {
        let section = try top.section("ledger", allowed: ["key", "checkpoint_every", "checkpoint_seconds", "decision_hours", "backup", "public_key"])
        let defaults = KeelConfig.Ledger()

        var backup: KeelConfig.LedgerBackupConfig?
        if let backupSection = try section.optionalSection("backup", allowed: ["remote", "branch"]) {
            let expectedRemote = "the path, URL or user@host:path of the git repository the ledger is backed up to"
            let remoteText = try backupSection.required("remote", expectedRemote).nonEmptyText(expectedRemote)
            // Only a path can be made relative to keel.yml; git addresses pass through untouched.
            let remote = ConfigPath.isRemoteAddress(remoteText) ? remoteText : ConfigPath.resolve(remoteText, against: base)
            let branch = try backupSection.optional("branch")?.nonEmptyText("a branch name") ?? KeelConfig.LedgerBackupConfig(remote: remote).branch
            backup = KeelConfig.LedgerBackupConfig(remote: remote, branch: branch)
        }
        var publicKey: String?
        if let node = section.optional("public_key") {
            let text = try node.nonEmptyText("the base64 Ed25519 public key the ledger starts with")
            do {
                _ = try AgentKey(base64: text)
            } catch {
                throw node.error(
                    .invalidValue,
                    "is not a base64 Ed25519 public key (\(error.message)); copy public_key from the genesis file next to the signing key")
            }
            publicKey = text
        }

        return KeelConfig.Ledger(
            key: try path(section.optional("key"), default: KeelConfig.DefaultPath.ledgerKey),
            checkpointEvery: try section.optional("checkpoint_every")?.integer(in: 1...Int.max) ?? defaults.checkpointEvery,
            checkpointSeconds: try section.optional("checkpoint_seconds")?.integer(in: 1...Int.max) ?? defaults.checkpointSeconds,
            decisionHours: try section.optional("decision_hours")?.integer(in: 1...Int.max) ?? defaults.decisionHours,
            backup: backup,
            publicKey: publicKey
        )
    }

    /// Reads `alerts:`; its `public_url` (the older spelling of `server.public_url`) fills in `server`'s.
    private func alerts(_ top: ConfigMapping, server: inout KeelConfig.Server) throws(ConfigError) -> KeelConfig.Alerts {
        let section = try top.section("alerts", allowed: ["public_url", "telegram", "email", "slack", "webhook"])
        if let node = section.optional("public_url") {
            let written = try node.httpURL(trimmingTrailingSlashes: true)
            if let other = server.publicURL, other != written {
                throw node.error(.invalidValue, "differs from server.public_url (\(other)): keep one of them, server.public_url")
            }
            server.publicURL = written
        }
        let publicURL = KeelConfig.Alerts.defaultPublicURL(for: server)

        var telegram: KeelConfig.Telegram?
        if let fields = try section.optionalSection(
            "telegram",
            allowed: ["bot_token_env", "chat_id", "api_base"],
            secrets: [SecretKey(name: "bot_token", envKey: "bot_token_env", example: "KEEL_TELEGRAM_BOT_TOKEN")]
        ) {
            let expectedChat = "the chat to alert: its id, e.g. chat_id: \"-1001234567890\", or \"@channelusername\""
            let chatID = try fields.required("chat_id", expectedChat).nonEmptyText("a chat id or @channelusername")
            let defaults = KeelConfig.Telegram(chatID: chatID)
            telegram = KeelConfig.Telegram(
                botTokenEnv: try fields.optional("bot_token_env")?.environmentVariableName() ?? defaults.botTokenEnv,
                chatID: chatID,
                apiBase: try fields.optional("api_base")?.httpURL(trimmingTrailingSlashes: true) ?? defaults.apiBase
            )
        }

        var email: KeelConfig.Email?
        if let fields = try section.optionalSection(
            "email",
            allowed: ["host", "port", "from", "to", "username", "password_env", "security"],
            secrets: [SecretKey(name: "password", envKey: "password_env", example: "KEEL_SMTP_PASSWORD")]
        ) {
            let host = try fields.required("host", "the SMTP server, e.g. host: smtp.example.com").nonEmptyText("a host name or address")
            let from = try fields.required("from", "the sender's address, e.g. from: keel@example.com").emailAddress()
            let to = try recipients(fields.required("to", "the addresses to alert, e.g. to: [oncall@example.com]"))
            let defaults = KeelConfig.Email(host: host, from: from, to: to)
            email = KeelConfig.Email(
                host: host,
                port: try fields.optional("port")?.integer(in: 1...65535) ?? defaults.port,
                from: from,
                to: to,
                username: try fields.optional("username")?.nonEmptyText("a user name"),
                passwordEnv: try fields.optional("password_env")?.environmentVariableName() ?? defaults.passwordEnv,
                security: try fields.optional("security")?.choice(KeelConfig.EmailSecurity.self, noun: "email security") ?? defaults.security
            )
        }

        var slack: KeelConfig.Slack?
        if let fields = try section.optionalSection(
            "slack",
            allowed: ["webhook_url_env"],
            secrets: [SecretKey(name: "webhook_url", envKey: "webhook_url_env", example: "KEEL_SLACK_WEBHOOK_URL")]
        ) {
            let defaults = KeelConfig.Slack()
            slack = KeelConfig.Slack(
                webhookURLEnv: try fields.optional("webhook_url_env")?.environmentVariableName() ?? defaults.webhookURLEnv
            )
        }

        var webhook: KeelConfig.Webhook?
        if let fields = try section.optionalSection(
            "webhook",
            allowed: ["url", "secret_env"],
            secrets: [SecretKey(name: "secret", envKey: "secret_env", example: "KEEL_WEBHOOK_SECRET")]
        ) {
            webhook = KeelConfig.Webhook(
                url: try fields.required("url", "where to post alerts, e.g. url: https://hooks.example.com/keel").httpURL(),
                secretEnv: try fields.optional("secret_env")?.environmentVariableName()
            )
        }

        return KeelConfig.Alerts(publicURL: publicURL, telegram: telegram, email: email, slack: slack, webhook: webhook)
    }

    /// `alerts.email.to`: a list of addresses, or one address written as a string.
    private func recipients(_ node: ConfigNode) throws(ConfigError) -> [String] {
        let shape = "a non-empty list of email addresses (or a single address)"
        switch node.node {
        case .scalar where !node.isNull:
            return [try node.emailAddress()]
        case .sequence:
            let items = try node.items()
            guard !items.isEmpty else { throw node.expected(shape) }
            var addresses: [String] = []
            for item in items {
                addresses.append(try item.emailAddress())
            }
            return addresses
        default:
            throw node.expected(shape)
        }
    }

    /// `ci.commands` / `inspect.checks`: strings named after themselves, or `{name, run}` mappings.
    private func commands(_ node: ConfigNode?) throws(ConfigError) -> [KeelConfig.Command] {
        guard let node else { return [] }
        let shape = "a command line or {name: ..., run: ...}"
        var commands: [KeelConfig.Command] = []
        var keyByName: [String: String] = [:]
        for item in try node.items() {
            let command: KeelConfig.Command
            switch item.node {
            case .mapping:
                let fields = try item.mapping(allowed: ["name", "run"])
                let run = try fields.required("run", "the command line to run").nonEmptyText("a command line")
                let name = try fields.optional("name")?.nonEmptyText("a name") ?? run
                command = KeelConfig.Command(name: name, run: run)
            case .scalar:
                let run = try item.nonEmptyText(shape)
                command = KeelConfig.Command(name: run, run: run)
            default:
                throw item.expected(shape)
            }
            // Names identify results in reports and gates; two alike would hide one of them.
            if let other = keyByName[command.name] {
                throw item.error(.invalidValue, "name \(ConfigTemplate.quoted(command.name)) is already used by \(other); give each its own name")
            }
            keyByName[command.name] = item.key
            commands.append(command)
        }
        return commands
    }

    /// `agent.command`: a list of strings, or one string naming a lone executable (never split on spaces).
    private func commandLine(_ node: ConfigNode) throws(ConfigError) -> [String] {
        let shape = "a non-empty list of strings (executable, then arguments) or a single executable"
        switch node.node {
        case .scalar where !node.isNull:
            return [try node.nonEmptyText(shape)]
        case .sequence:
            let items = try node.items()
            guard !items.isEmpty else { throw node.expected(shape) }
            var words: [String] = []
            for (index, item) in items.enumerated() {
                guard case .scalar = item.node else { throw item.expected("a string") }
                words.append(index == 0 ? try item.nonEmptyText("an executable") : try item.text())
            }
            return words
        default:
            throw node.expected(shape)
        }
    }

    private func path(_ node: ConfigNode?, default relative: String) throws(ConfigError) -> String {
        let text = try node?.nonEmptyText("a path") ?? relative
        return ConfigPath.resolve(text, against: base)
    }
}

/// Lexical path handling: no symlink resolution and no file system access, so a configuration
/// resolves the same way whether or not its directories exist yet.
enum ConfigPath {
    /// `path` made absolute against `base` (itself absolute), with `.`, `..` and repeated slashes removed.
    /// A leading `~` means the home directory.
    static func resolve(_ path: String, against base: String) -> String {
        var path = path
        if path == "~" || path.hasPrefix("~/") {
            path = NSHomeDirectory() + path.dropFirst()
        }
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var components: [Substring] = []
        for component in joined.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".":
                continue
            case "..":
                _ = components.popLast()
            default:
                components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// `true` for a git remote that is not a local path: a URL (`ssh://`, `https://`, `file://`) or an
    /// scp-style address (`git@host:path`), which git reads as ssh.
    static func isRemoteAddress(_ text: String) -> Bool {
        if text.contains("://") {
            return true
        }
        // scp-style: `user@host:` before any slash, so `./a@b:c` and `/srv/x@y:z` stay paths.
        guard let colon = text.firstIndex(of: ":") else { return false }
        let userAndHost = text[..<colon]
        guard !userAndHost.contains("/"), let at = userAndHost.firstIndex(of: "@") else { return false }
        return at != userAndHost.startIndex && userAndHost.index(after: at) != userAndHost.endIndex
    }

    /// The directory holding `path` (absolute).
    static func parent(of path: String) -> String {
        resolve("..", against: path)
    }

    /// The last component of an absolute path, or `keel` for the root directory.
    static func lastComponent(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? "keel"
    }
}

/// YAML well-formedness: composing the document and translating Yams' errors into one line each.
enum ConfigSyntax {
    static func compose(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw syntaxError(error, text: text, file: file)
        } catch {
            throw ConfigError(code: .syntax, file: file, message: "invalid YAML: \(error)", cause: error)
        }
        // An empty file (or one of only comments) is an empty mapping: the missing keys say what to add.
        return ConfigNode(file: file, key: "", node: node ?? Node("", .implicit, .plain), keyLine: nil)
    }

    private static func syntaxError(_ error: YamlError, text: String, file: String) -> ConfigError {
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            if problem == "but found another document" {
                return ConfigError(
                    code: .syntax,
                    file: file,
                    line: mark.line,
                    message: "a second YAML document starts here; keel.yml holds one",
                    cause: error
                )
            }
            var message = "invalid YAML: \(problem)"
            if let context {
                let lineMatters = context.mark.line != mark.line
                message += lineMatters ? " (\(context.text) on line \(context.mark.line))" : " (\(context.text))"
            }
            if lineHasTab(text, line: mark.line) {
                message += "; indent with spaces: YAML does not allow tabs"
            }
            return ConfigError(code: .syntax, file: file, line: mark.line, message: message, cause: error)
        case .reader(let problem, let offset, _, _):
            let line = offset.map { offset in text.prefix(offset).reduce(1) { $1.isNewline ? $0 + 1 : $0 } }
            return ConfigError(code: .syntax, file: file, line: line, message: "unreadable text: \(problem)", cause: error)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map(ConfigTemplate.quoted).joined(separator: ", ")
            let noun = duplicates.count == 1 ? "key" : "keys"
            return ConfigError(
                code: .syntax,
                file: file,
                line: context.mark.line,
                message: "\(noun) \(keys) set more than once in the same mapping; keep one",
                cause: error
            )
        default:
            return ConfigError(code: .syntax, file: file, message: "invalid YAML: \(error)", cause: error)
        }
    }

    private static func lineHasTab(_ text: String, line: Int) -> Bool {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard line >= 1, line <= lines.count else { return false }
        return lines[line - 1].prefix { $0 == " " || $0 == "\t" }.contains("\t")
    }
}
