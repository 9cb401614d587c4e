/// The commented `keel.yml` that `keel init` writes, and each agent's default command line.
///
/// ```swift
/// let text = ConfigTemplate.render(agent: .claudeCode, origin: "../origin.git", base: "main", ciCommands: ["sh tests/run.sh"])
/// try text.write(toFile: "keel.yml", atomically: true, encoding: .utf8)
/// ```
///
/// The rendered file parses back with `KeelConfig.parse` to the same agent, origin, base and CI commands.
public enum ConfigTemplate {
    /// The executable and arguments run for `kind` when `agent.command` is omitted; empty for
    /// `.sample`, whose runner the pipeline supplies.
    public static func defaultCommand(for kind: KeelConfig.AgentKind) -> [String] {
        switch kind {
        // Headless Claude Code denies every edit in its default permission mode (and still reports
        // success): acceptEdits lets it edit its clone, --allowedTools names the rest it needs.
        case .claudeCode:
            [
                "claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits",
                "--allowedTools", "Read,Edit,Write,Glob,Grep,Bash",
            ]
        case .codex: ["codex", "exec", "--json", "--skip-git-repo-check", "--full-auto"]
        case .gemini: ["gemini", "-o", "stream-json", "--approval-mode", "auto_edit", "-p"]
        case .aider: ["aider", "--yes-always", "--no-auto-commits", "--message-file"]
        case .command: ["./keel-agent.sh"]
        case .sample: []
        }
    }

    /// How the prompt reaches `kind` when `agent.prompt` is omitted; matches ``defaultCommand(for:)``
    /// (e.g. Gemini's trailing `-p` takes the prompt as its argument).
    public static func defaultPromptMode(for kind: KeelConfig.AgentKind) -> KeelConfig.PromptMode {
        switch kind {
        case .claudeCode, .command, .sample: .stdin
        case .codex, .gemini: .argument
        case .aider: .file
        }
    }

    /// The commented `keel.yml` for a new project: every section present, each key explained with its default.
    ///
    /// - Parameters:
    ///   - agent: The coding agent; its section gets that agent's default command and prompt mode.
    ///   - origin: Path (relative to `keel.yml` or absolute) or URL of the bare origin repository.
    ///   - base: The branch to merge into.
    ///   - ciCommands: Shell command lines CI runs, each named after itself.
    public static func render(agent: KeelConfig.AgentKind, origin: String, base: String, ciCommands: [String]) -> String {
        let scheduler = KeelConfig.Scheduler()
        let timeouts = KeelConfig.AgentTimeouts()
        let server = KeelConfig.Server()
        let ci = KeelConfig.CI()
        let ledger = KeelConfig.Ledger()
        let kinds = KeelConfig.AgentKind.allCases.map(\.rawValue).joined(separator: ", ")

        var lines: [String] = [
            "# keel.yml: how Keel turns this project's issues into merged changes.",
            "# Relative paths resolve against the directory holding this file. Unknown keys are errors,",
            "# so a typo cannot pass silently. Each key's comment says what it does and its default.",
            "",
            "# project: the name shown in reports and the dashboard (default: the name of this directory).",
            "# project: my-service",
            "",
            "# tenant: who agent costs are attributed to in the cost ledger (default: \"default\").",
            "tenant: \(quoted("default"))",
            "",
            "store:",
            "  # sqlite: the SQLite database holding work items, costs and the audit ledger (default: \(KeelConfig.DefaultPath.sqlite)).",
            "  sqlite: \(quoted(KeelConfig.DefaultPath.sqlite))",
            "",
            "forge:",
            "  local:",
            "    # origin: path or file:// URL of the bare git repository Keel pushes to and merges into (required).",
            "    origin: \(quoted(origin))",
            "    # base: the branch changes are merged into (default: main).",
            "    base: \(quoted(base))",
            "",
            "ci:",
            "  # commands: run in the worker's clone after each push; all must exit 0 before a change may merge.",
            "  # Each is a command line (named after itself) or {name: ..., run: ...} (default: none).",
        ]
        if ciCommands.isEmpty {
            lines += [
                "  commands: []",
                "  # For example:",
                "  #   - sh tests/run.sh",
                "  #   - {name: unit, run: swift test}",
            ]
        } else {
            lines.append("  commands:")
            lines += ciCommands.map { "    - \(quoted($0))" }
        }
        lines += [
            "  # timeout_seconds: a CI command still running after this long fails (default: \(ci.timeoutSeconds)).",
            "  timeout_seconds: \(ci.timeoutSeconds)",
            "  # required: checks the merge gate requires besides the commands above, by name (default: none);",
            "  # one that has not reported yet is waited for, never taken as passed.",
            "  required: []",
            "  # wait_seconds: how long to wait for required checks to register and finish (default: \(ci.waitSeconds)).",
            "  wait_seconds: \(ci.waitSeconds)",
            "  # poll_seconds: how often to look again while waiting (default: \(ci.pollSeconds)).",
            "  poll_seconds: \(ci.pollSeconds)",
            "",
            "inspect:",
            "  # checks: deterministic checks run before merge, same shape as ci.commands (default: none).",
            "  checks: []",
            "  # For example:",
            "  #   - {name: lint, run: sh lint.sh}",
            "  # reviewer: an agent that reviews each change against the acceptance criteria after the checks pass",
            "  # and ends with {\"verdict\": \"APPROVE\"|\"CHANGES_REQUESTED\"|\"PARTIAL\", \"items\": [...], \"confidence\": 0..1};",
            "  # same keys as agent (default: none).",
            "  # reviewer: {kind: claude-code}",
            "  # min_confidence: an APPROVE below this goes to a person, review-ready (default: 0).",
            "  # min_confidence: 0.7",
            "",
            "agent:",
            "  # kind: the coding agent: \(kinds) (required).",
            "  kind: \(agent.rawValue)",
        ]
        lines += agentLines(agent)
        lines += [
            "  # env: extra environment variables for the agent, e.g. {HTTPS_PROXY: \"http://proxy:3128\"} (default: none).",
            "  env: {}",
            "  # model: the model the agent runs, for pricing when its output names none (Codex's --json never does);",
            "  # Keel does not pass it to the agent (default: none).",
            "  # model: gpt-5-codex",
            "  timeouts:",
            "    # wall_clock_seconds: a run taking longer than this in total is stopped (default: \(timeouts.wallClockSeconds)).",
            "    wall_clock_seconds: \(timeouts.wallClockSeconds)",
            "    # inactivity_seconds: a run printing nothing for this long is presumed stuck and stopped (default: \(timeouts.inactivitySeconds)).",
            "    inactivity_seconds: \(timeouts.inactivitySeconds)",
            "  # token_broker: lend agents an access token that keel run refreshes before it expires; only keel run",
            "  # holds the refresh token, and the token reaches the agent in its environment, redacted from transcripts.",
            "  # token_broker:",
            "  #   # credentials: the file holding the refresh token (required), kept 0600 and rewritten on refresh.",
            "  #   credentials: ~/.claude/.credentials.json",
            "  #   # layout: its shape, claude-code ({claudeAiOauth: {...}}) or oauth ({access_token, ...}) (default: claude-code).",
            "  #   layout: claude-code",
            "  #   # token_url: the OAuth token endpoint the refresh token is exchanged at (required).",
            "  #   token_url: \"https://auth.example.com/oauth/token\"",
            "  #   # client_id: the OAuth client the credential was issued to (required; \"\" for none).",
            "  #   client_id: \"my-client-id\"",
            "  #   # body: how the refresh request is encoded, form or json (default: form).",
            "  #   body: form",
            "  #   # minimum_lifetime_seconds: a token with less left than this is refreshed before it is lent (default: 300).",
            "  #   minimum_lifetime_seconds: 300",
            "  #   # variable: the environment variable the token is put in (default: CLAUDE_CODE_OAUTH_TOKEN for",
            "  #   # claude-code, KEEL_ACCESS_TOKEN for other agents).",
            "  #   variable: KEEL_ACCESS_TOKEN",
            "",
            "scheduler:",
            "  # workers: work items processed at once, each in its own clone, 1 to 64 (default: \(scheduler.workers)).",
            "  workers: \(scheduler.workers)",
            "  # lease_seconds: how long a worker's claim on an item lasts unless renewed, at least 2 (default: \(scheduler.leaseSeconds)).",
            "  lease_seconds: \(scheduler.leaseSeconds)",
            "  # poll_milliseconds: how often idle workers look for new work (default: \(scheduler.pollMilliseconds)).",
            "  poll_milliseconds: \(scheduler.pollMilliseconds)",
            "  # breaker_threshold: failures with the same signature before an item goes to needs_human (default: \(scheduler.breakerThreshold)).",
            "  breaker_threshold: \(scheduler.breakerThreshold)",
            "  backoff:",
            "    # initial_seconds: delay before the first retry of a transient failure (default: \(scheduler.backoff.initialSeconds)).",
            "    # Later delays grow exponentially up to max_seconds.",
            "    initial_seconds: \(scheduler.backoff.initialSeconds)",
            "    # max_seconds: the longest delay between retries (default: \(scheduler.backoff.maxSeconds)).",
            "    max_seconds: \(scheduler.backoff.maxSeconds)",
            "    # jitter: fraction of each delay that is randomized, 0 to 1 (default: \(scheduler.backoff.jitter)).",
            "    # Spreads retries out so they do not all arrive together.",
            "    jitter: \(scheduler.backoff.jitter)",
            "",
            "# budgets: spending ceilings in USD (default: none). A claim reserves estimate_usd before an agent runs; an item",
            "# whose reservation would cross a ceiling is not started and goes to needs_human with the figures.",
            "budgets:",
            "  # issue_usd: the most one issue may cost over its whole life (default: none).",
            "  # issue_usd: 5",
            "  # repo_usd: the most this repo may spend per period (default: none).",
            "  # repo_usd: 200",
            "  # tenant_usd: the most this tenant may spend per period (default: none).",
            "  # tenant_usd: 1000",
            "  # period: what repo and tenant spend is counted over: total, day or month (UTC) (default: month).",
            "  period: month",
            "  # estimate_usd: reserved per claim until the run's actual cost replaces it (default: 1.00).",
            "  estimate_usd: 1.00",
            "",
            "# planner: the agent that decomposes epics (keel submit --epic) into sub-issues with dependencies.",
            "planner:",
            "  # agent: same keys as agent (default: the agent above).",
            "  # agent: {kind: claude-code}",
            "",
            "# marshal: before merging, the branch is brought up to date with the base (and checked again).",
            "marshal:",
            "  # agent: the conflict-resolution agent, same keys as agent (default: none: a conflict goes back to develop).",
            "  # agent: {kind: claude-code}",
            "  # min_confidence: a resolution scoring below this goes to a person (default: 0.9).",
            "  min_confidence: 0.9",
            "",
            "# pricing: USD per million tokens by model, for agents that report tokens but no cost (Codex, Gemini CLI).",
            "# A model is matched by name, then without its provider prefix, then by the longest prefix (default: none).",
            "pricing: {}",
            "#   gpt-5-codex: {input: 1.25, output: 10.00, cache_read: 0.125}",
            "#   gemini-2.5-pro: {input: 1.25, output: 10.00, cache_read: 0.31}",
            "",
            "server:",
            "  # host: address the API, webhooks and dashboard listen on (default: \(server.host)).",
            "  host: \(quoted(server.host))",
            "  # port: port to listen on, 0 to 65535 (default: \(server.port)).",
            "  port: \(server.port)",
            "  # admin_token_env: the NAME of the environment variable holding the token that state-changing requests",
            "  # (such as a decision on a chain break's page) must present; the token itself never goes in this file",
            "  # (default: \(server.adminTokenEnv)).",
            "  admin_token_env: \(server.adminTokenEnv)",
            "",
            "# workspaces: where the workers' clones live (default: \(KeelConfig.DefaultPath.workspaces)).",
            "workspaces: \(quoted(KeelConfig.DefaultPath.workspaces))",
            "# transcripts: where agent transcripts are kept (default: \(KeelConfig.DefaultPath.transcripts)).",
            "transcripts: \(quoted(KeelConfig.DefaultPath.transcripts))",
            "",
        ]
        lines += ledgerLines(ledger)
        lines.append("")
        lines += alertLines(server: server)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The `ledger:` section: every key with its default, and the backup commented out, since its
    /// remote is the user's to choose.
    private static func ledgerLines(_ ledger: KeelConfig.Ledger) -> [String] {
        let backup = KeelConfig.LedgerBackupConfig(remote: "../ledger-backup.git")
        return [
            "ledger:",
            "  # The signed audit ledger: every state change, agent run, cost and decision is stamped into a",
            "  # hash chain; a break in it is detected, alerted and left for a person to decide on.",
            "  # key: the Ed25519 signing key, created with mode 0600 on first use (default: \(KeelConfig.DefaultPath.ledgerKey)).",
            "  key: \(quoted(KeelConfig.DefaultPath.ledgerKey))",
            "  # public_key: the base64 Ed25519 public key the chain starts with, to pin it; by default it is read from",
            "  # the genesis file written beside the key when the key is created (signing-key.genesis.json).",
            "  # checkpoint_every: events between two signed checkpoints, from which startup verification resumes,",
            "  # at least 1 (default: \(ledger.checkpointEvery)).",
            "  checkpoint_every: \(ledger.checkpointEvery)",
            "  # checkpoint_seconds: the longest time between two checkpoints, at least 1 (default: \(ledger.checkpointSeconds)).",
            "  checkpoint_seconds: \(ledger.checkpointSeconds)",
            "  # decision_hours: how long a person has to decide on a chain break before timeout_no_action is stamped,",
            "  # at least 1 (default: \(ledger.decisionHours)).",
            "  decision_hours: \(ledger.decisionHours)",
            "  # backup: a git repository the ledger is pushed to at each checkpoint, break and decision, and restored",
            "  # from when the store is empty (default: none). To use one, uncomment these lines:",
            "  # backup:",
            "  #   # remote: a path (relative to this file), a URL, or user@host:path (required).",
            "  #   remote: \(quoted(backup.remote))",
            "  #   # branch: the branch the ledger is pushed to (default: \(backup.branch)).",
            "  #   branch: \(backup.branch)",
        ]
    }

    /// The `alerts:` section: the link base commented out (its default follows `server:`), and every
    /// channel commented out with example values, since each needs the user's own chat, server or URL.
    private static func alertLines(server: KeelConfig.Server) -> [String] {
        let telegram = KeelConfig.Telegram(chatID: "-1001234567890")
        let email = KeelConfig.Email(host: "smtp.example.com", from: "keel@example.com", to: ["oncall@example.com"])
        let securities = KeelConfig.EmailSecurity.allCases.map(\.rawValue).joined(separator: " or ")
        let slack = KeelConfig.Slack()
        return [
            "alerts:",
            "  # public_url: the base URL people reach this server at, for the links in alerts; set it when Keel",
            "  # listens on 0.0.0.0 or sits behind a proxy. Starts with http:// or https://",
            "  # (default: http://<server.host>:<server.port>, here \(KeelConfig.Alerts.defaultPublicURL(for: server))).",
            "  # public_url: \(quoted("https://keel.example.com"))",
            "  #",
            "  # A chain break alerts every channel set up below, with a link to the break's page; with none, breaks",
            "  # show only in `keel ledger status`. Secrets never go in this file: each *_env key names the",
            "  # environment variable holding one. To use a channel, uncomment its lines.",
            "  #",
            "  # telegram: a Telegram chat, through the Bot API's sendMessage.",
            "  # telegram:",
            "  #   # bot_token_env: the variable holding the token BotFather gave the bot (default: \(telegram.botTokenEnv)).",
            "  #   bot_token_env: \(telegram.botTokenEnv)",
            "  #   # chat_id: the chat's id, quoted (-100... for groups and channels), or \"@channelusername\" (required).",
            "  #   chat_id: \(quoted(telegram.chatID))",
            "  #   # api_base: the Bot API server (default: \(telegram.apiBase)).",
            "  #   api_base: \(quoted(telegram.apiBase))",
            "  #",
            "  # email: a plain-text email through an SMTP server.",
            "  # email:",
            "  #   # host: the SMTP server (required).",
            "  #   host: \(email.host)",
            "  #   # port: the SMTP port, 1 to 65535: 587 for submission, 25 for a relay (default: \(email.port)).",
            "  #   port: \(email.port)",
            "  #   # from: the sender's address (required).",
            "  #   from: \(email.from)",
            "  #   # to: the recipients, a list or a single address (required).",
            "  #   to: [\(email.to.joined(separator: ", "))]",
            "  #   # username: the user to log in as (default: none, send without logging in).",
            "  #   username: \(email.from)",
            "  #   # password_env: the variable holding the password, read only when username is set (default: \(email.passwordEnv)).",
            "  #   password_env: \(email.passwordEnv)",
            "  #   # security: \(securities): starttls requires an encrypted session; none is plain TCP, only for",
            "  #   # a relay on a trusted network (default: \(email.security.rawValue)).",
            "  #   security: \(email.security.rawValue)",
            "  #",
            "  # slack: a Slack channel, through an incoming webhook.",
            "  # slack:",
            "  #   # webhook_url_env: the variable holding the webhook's URL, itself a secret (default: \(slack.webhookURLEnv)).",
            "  #   webhook_url_env: \(slack.webhookURLEnv)",
            "  #",
            "  # webhook: alerts posted as JSON to any HTTP endpoint.",
            "  # webhook:",
            "  #   # url: where to post, http:// or https:// (required).",
            "  #   url: \(quoted("https://hooks.example.com/keel"))",
            "  #   # secret_env: the variable holding a secret; with one, each request carries",
            "  #   # X-Keel-Signature: sha256=<HMAC-SHA256 of the body> (default: none, unsigned).",
            "  #   secret_env: KEEL_WEBHOOK_SECRET",
        ]
    }

    /// The `command` and `prompt` lines for one agent kind, with the comments that explain them.
    private static func agentLines(_ kind: KeelConfig.AgentKind) -> [String] {
        let command = defaultCommand(for: kind)
        let prompt = defaultPromptMode(for: kind).rawValue
        let promptComment = [
            "  # prompt: how the task prompt reaches the agent (default for \(kind.rawValue): \(prompt)): stdin,",
            "  # argument (appended as the last argument) or file (written to a file whose path is appended last).",
        ]
        switch kind {
        case .command:
            return [
                "  # command: the executable and its arguments, run in the worker's clone (required for kind command).",
                "  # The contract: the task prompt arrives on stdin, with these environment variables set:",
                "  #   KEEL_ITEM_ID       the work item's id",
                "  #   KEEL_ATTEMPT       which attempt this is",
                "  #   KEEL_TASK_FILE     a file holding the task",
                "  #   KEEL_HISTORY_FILE  a file holding earlier attempts and why they failed",
                "  #   KEEL_WORKSPACE     the clone to change",
                "  # Exit 0 means the work is done; any other status is a failed attempt.",
                "  # To report usage and cost, print as the last line of stdout one JSON object in the shape of",
                "  # Claude Code's stream-json result, for example:",
                "  #   {\"type\":\"result\",\"num_turns\":3,\"usage\":{\"input_tokens\":1200,\"output_tokens\":340,"
                    + "\"cache_read_input_tokens\":0,\"cache_creation_input_tokens\":0},\"total_cost_usd\":0.0123}",
                "  command: \(flowList(command))",
            ] + promptComment + ["  prompt: \(prompt)"]
        case .sample:
            return [
                "  # command: the executable and its arguments; omitted, Keel runs its built-in sample agent,",
                "  # which needs no model and shows the pipeline end to end.",
                "  # command: [\"./my-agent.sh\"]",
            ] + promptComment + ["  prompt: \(prompt)"]
        case .claudeCode, .codex, .gemini, .aider:
            return [
                "  # command: the executable and its arguments, run in the worker's clone"
                    + " (default for \(kind.rawValue): \(flowList(command))).",
                "  command: \(flowList(command))",
            ] + promptComment + ["  prompt: \(prompt)"]
        }
    }

    private static func flowList(_ words: [String]) -> String {
        "[" + words.map(quoted).joined(separator: ", ") + "]"
    }

    /// A YAML double-quoted scalar: safe for any text, including `: `, ` #`, leading `-` or `*`,
    /// quotes, backslashes and line breaks. Error messages quote values the same way.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // C0/C1 controls, DEL, the BOM and Unicode line separators are not allowed raw (or read
                // as line breaks), so they are escaped.
                let value = scalar.value
                if value < 0x20 || (0x7F...0x9F).contains(value) || value == 0xFEFF || value == 0x2028 || value == 0x2029 {
                    let hex = String(value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
