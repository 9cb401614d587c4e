import Foundation
import KeelCore
import KeelPipeline
import Testing

/// Parses `lines` (joined with newlines) as `keel.yml` in `/srv/app`.
private func parse(_ lines: [String], baseDirectory: String = "/srv/app") throws(ConfigError) -> KeelConfig {
    try KeelConfig.parse(lines.joined(separator: "\n") + "\n", file: "keel.yml", baseDirectory: baseDirectory)
}

/// The error parsing `lines` produces, or `nil` if they parse.
private func failure(_ lines: [String]) -> ConfigError? {
    do {
        _ = try parse(lines)
        return nil
    } catch {
        return error
    }
}

/// The smallest valid file, to which a test adds the lines it is about.
private let minimal = [
    "forge:",
    "  local:",
    "    origin: ../origin.git",
    "agent:",
    "  kind: claude-code",
]

@Suite struct ConfigTests {
    // MARK: - Values

    @Test func fullFileParsesToTheValuesWritten() throws {
        let config = try parse([
            "project: my-service",
            "tenant: acme",
            "store:",
            "  sqlite: state/keel.sqlite",
            "forge:",
            "  local:",
            "    origin: ../origin.git",
            "    base: trunk",
            "ci:",
            "  commands:",
            "    - sh tests/run.sh",
            "    - {name: unit, run: swift test --parallel}",
            "  timeout_seconds: 900",
            "inspect:",
            "  checks:",
            "    - {name: lint, run: sh lint.sh}",
            "    - run: sh format-check.sh",
            "agent:",
            "  kind: command",
            "  command: [\"./agent.sh\", \"--fast\"]",
            "  prompt: file",
            "  env: {KEY: value, RETRIES: 3}",
            "  timeouts:",
            "    wall_clock_seconds: 1200",
            "    inactivity_seconds: 120",
            "scheduler:",
            "  workers: 4",
            "  lease_seconds: 30",
            "  poll_milliseconds: 250",
            "  breaker_threshold: 5",
            "  backoff:",
            "    initial_seconds: 10",
            "    max_seconds: 120",
            "    jitter: 0.25",
            "server:",
            "  host: 0.0.0.0",
            "  port: 9000",
            "  admin_token_env: MY_ADMIN_TOKEN",
            "workspaces: /var/keel/workspaces",
            "transcripts: logs/transcripts",
            "ledger:",
            "  key: secrets/ledger-key.json",
            "  checkpoint_every: 250",
            "  checkpoint_seconds: 600",
            "  decision_hours: 24",
            "  backup:",
            "    remote: ../ledger-backup.git",
            "    branch: audit",
            "alerts:",
            "  public_url: https://keel.example.com/",
            "  telegram:",
            "    bot_token_env: TG_TOKEN",
            "    chat_id: -1001234567890",
            "    api_base: http://127.0.0.1:9999/",
            "  email:",
            "    host: smtp.example.com",
            "    port: 2525",
            "    from: Keel <keel@example.com>",
            "    to: [oncall@example.com, lead@example.com]",
            "    username: keel",
            "    password_env: SMTP_PASS",
            "    security: none",
            "  slack:",
            "    webhook_url_env: SLACK_URL",
            "  webhook:",
            "    url: https://hooks.example.com/keel",
            "    secret_env: HOOK_SECRET",
        ])

        let expected = KeelConfig(
            project: "my-service",
            tenant: "acme",
            store: .init(sqlite: "/srv/app/state/keel.sqlite"),
            forge: .init(local: .init(origin: "/srv/origin.git", base: "trunk")),
            ci: .init(
                commands: [
                    .init(name: "sh tests/run.sh", run: "sh tests/run.sh"),
                    .init(name: "unit", run: "swift test --parallel"),
                ],
                timeoutSeconds: 900
            ),
            inspect: .init(checks: [
                .init(name: "lint", run: "sh lint.sh"),
                .init(name: "sh format-check.sh", run: "sh format-check.sh"),
            ]),
            agent: .init(
                kind: .command,
                command: ["./agent.sh", "--fast"],
                prompt: .file,
                env: ["KEY": "value", "RETRIES": "3"],
                timeouts: .init(wallClockSeconds: 1200, inactivitySeconds: 120)
            ),
            scheduler: .init(
                workers: 4,
                leaseSeconds: 30,
                pollMilliseconds: 250,
                breakerThreshold: 5,
                backoff: .init(initialSeconds: 10, maxSeconds: 120, jitter: 0.25)
            ),
            server: .init(host: "0.0.0.0", port: 9000, adminTokenEnv: "MY_ADMIN_TOKEN", publicURL: "https://keel.example.com"),
            workspaces: "/var/keel/workspaces",
            transcripts: "/srv/app/logs/transcripts",
            ledger: .init(
                key: "/srv/app/secrets/ledger-key.json",
                checkpointEvery: 250,
                checkpointSeconds: 600,
                decisionHours: 24,
                backup: .init(remote: "/srv/ledger-backup.git", branch: "audit")
            ),
            alerts: .init(
                publicURL: "https://keel.example.com",
                telegram: .init(botTokenEnv: "TG_TOKEN", chatID: "-1001234567890", apiBase: "http://127.0.0.1:9999"),
                email: .init(
                    host: "smtp.example.com",
                    port: 2525,
                    from: "Keel <keel@example.com>",
                    to: ["oncall@example.com", "lead@example.com"],
                    username: "keel",
                    passwordEnv: "SMTP_PASS",
                    security: KeelConfig.EmailSecurity.none
                ),
                slack: .init(webhookURLEnv: "SLACK_URL"),
                webhook: .init(url: "https://hooks.example.com/keel", secretEnv: "HOOK_SECRET")
            )
        )
        #expect(config == expected)
    }

    @Test func omittedKeysTakeTheDocumentedDefaults() throws {
        let config = try parse(minimal)

        #expect(config.project == "app")
        #expect(config.tenant == "default")
        #expect(config.store.sqlite == "/srv/app/.keel/keel.sqlite")
        #expect(config.forge.local.base == "main")
        #expect(config.ci == KeelConfig.CI(commands: [], timeoutSeconds: 600))
        #expect(config.inspect.checks.isEmpty)
        #expect(
            config.agent.command == [
                "claude", "-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits", "--allowedTools",
                "Read,Edit,Write,Glob,Grep,Bash",
            ])
        #expect(config.agent.prompt == .stdin)
        #expect(config.agent.env.isEmpty)
        #expect(config.agent.timeouts == KeelConfig.AgentTimeouts(wallClockSeconds: 1800, inactivitySeconds: 300))
        #expect(
            config.scheduler
                == KeelConfig.Scheduler(
                    workers: 2,
                    leaseSeconds: 60,
                    pollMilliseconds: 500,
                    breakerThreshold: 3,
                    backoff: .init(initialSeconds: 30, maxSeconds: 90, jitter: 0.5)
                )
        )
        #expect(config.server == KeelConfig.Server(host: "127.0.0.1", port: 8765, adminTokenEnv: "KEEL_ADMIN_TOKEN"))
        #expect(config.workspaces == "/srv/app/.keel/workspaces")
        #expect(config.transcripts == "/srv/app/.keel/transcripts")
        #expect(
            config.ledger
                == KeelConfig.Ledger(
                    key: "/srv/app/.keel/ledger/signing-key.json",
                    checkpointEvery: 1000,
                    checkpointSeconds: 3600,
                    decisionHours: 72,
                    backup: nil
                )
        )
        #expect(config.alerts == KeelConfig.Alerts(publicURL: "http://127.0.0.1:8765", telegram: nil, email: nil, slack: nil, webhook: nil))
    }

    @Test func channelSectionsTakeTheirDefaultsForEveryKeyNotRequired() throws {
        let config = try parse(
            minimal + [
                "alerts:",
                "  telegram: {chat_id: \"@keel_alerts\"}",
                "  email: {host: smtp.example.com, from: keel@example.com, to: oncall@example.com}",
                "  slack:",
                "  webhook: {url: \"http://127.0.0.1:9000/hook\"}",
                "ledger:",
                "  backup: {remote: /srv/backup.git}",
            ]
        )

        #expect(
            config.alerts.telegram
                == KeelConfig.Telegram(botTokenEnv: "KEEL_TELEGRAM_BOT_TOKEN", chatID: "@keel_alerts", apiBase: "https://api.telegram.org")
        )
        let email = try #require(config.alerts.email)
        #expect(email.port == 587)
        #expect(email.to == ["oncall@example.com"])
        #expect(email.username == nil)
        #expect(email.passwordEnv == "KEEL_SMTP_PASSWORD")
        #expect(email.security == .startTLS)
        #expect(config.alerts.slack == KeelConfig.Slack(webhookURLEnv: "KEEL_SLACK_WEBHOOK_URL"))
        #expect(config.alerts.webhook == KeelConfig.Webhook(url: "http://127.0.0.1:9000/hook", secretEnv: nil))
        #expect(config.ledger.backup == KeelConfig.LedgerBackupConfig(remote: "/srv/backup.git", branch: "keel-ledger"))
    }

    @Test func theAlertLinkBaseFollowsTheServerUnlessWritten() throws {
        #expect(try parse(minimal + ["server: {host: 10.0.0.5}"]).alerts.publicURL == "http://10.0.0.5:8765")
        #expect(try parse(minimal + ["server: {port: 9100}"]).alerts.publicURL == "http://127.0.0.1:9100")
        #expect(try parse(minimal + ["server: {host: keel.internal, port: 80}"]).alerts.publicURL == "http://keel.internal:80")
        #expect(try parse(minimal + ["server: {host: \"::1\"}"]).alerts.publicURL == "http://[::1]:8765")
        // A written public_url wins over the server's address, without its trailing slashes.
        let written = try parse(minimal + ["server: {port: 9100}", "alerts: {public_url: \"HTTPS://keel.example.com/ops//\"}"])
        #expect(written.alerts.publicURL == "HTTPS://keel.example.com/ops")
        #expect(written.server.publicURL == "HTTPS://keel.example.com/ops")
    }

    @Test func serverPublicURLIsTheLinkBaseAndAConflictingAlertsPublicURLIsRefused() throws {
        let config = try parse(minimal + ["server: {port: 0, public_url: \"https://keel.example.com/\"}"])
        #expect(config.server.publicURL == "https://keel.example.com")
        #expect(config.alerts.publicURL == "https://keel.example.com")
        #expect(try parse(minimal).server.publicURL == nil)
        let clash = failure(minimal + ["server: {public_url: \"https://a.example.com\"}", "alerts: {public_url: \"https://b.example.com\"}"])
        #expect(clash?.key == "alerts.public_url" && clash?.description.contains("server.public_url") == true, "\(String(describing: clash))")
    }

    @Test func alertLinksFollowTheListeningPortUnlessAPublicURLIsConfigured() {
        let picked = PublicURL(configured: nil, host: "127.0.0.1", port: 0)
        #expect(!picked.isSettled)
        picked.serverListening(host: "127.0.0.1", port: 49152)
        #expect(picked.isSettled && picked.current == "http://127.0.0.1:49152")
        let configured = PublicURL(configured: "https://keel.example.com", host: "127.0.0.1", port: 0)
        #expect(configured.isSettled)
        configured.serverListening(host: "127.0.0.1", port: 49152)
        #expect(configured.current == "https://keel.example.com")
        #expect(PublicURL.resolve(configured: nil, host: "::1", port: 9000) == "http://[::1]:9000")
    }

    @Test func configurationsBuiltInCodeKeepTheLedgerKeyBesideTheStoreAndLinksOnTheServer() {
        let config = KeelConfig(
            project: "app",
            store: .init(sqlite: "/tmp/run-1/state/keel.sqlite"),
            forge: .init(local: .init(origin: "/tmp/origin.git")),
            agent: .init(kind: .sample),
            server: .init(host: "127.0.0.1", port: 9200),
            workspaces: "/tmp/run-1/ws",
            transcripts: "/tmp/run-1/t"
        )

        #expect(config.ledger == KeelConfig.Ledger(key: "/tmp/run-1/state/ledger/signing-key.json"))
        #expect(config.alerts == KeelConfig.Alerts(publicURL: "http://127.0.0.1:9200"))
    }

    @Test func sectionsWrittenWithNoValueTakeTheirDefaults() throws {
        let config = try parse(minimal + ["ci:", "scheduler:", "  backoff:", "server: ~", "tenant:"])

        #expect(config.ci == KeelConfig.CI())
        #expect(config.scheduler == KeelConfig.Scheduler())
        #expect(config.server == KeelConfig.Server())
        #expect(config.tenant == "default")
    }

    @Test func omittedAgentCommandAndPromptFollowTheKind() throws {
        let codex = try parse(["forge: {local: {origin: /o.git}}", "agent: {kind: codex}"])
        #expect(codex.agent.command == ConfigTemplate.defaultCommand(for: .codex))
        #expect(codex.agent.prompt == .argument)

        let aider = try parse(["forge: {local: {origin: /o.git}}", "agent: {kind: aider}"])
        #expect(aider.agent.prompt == .file)

        let sample = try parse(["forge: {local: {origin: /o.git}}", "agent: {kind: sample}"])
        #expect(sample.agent.command.isEmpty)
        #expect(sample.agent.prompt == .stdin)
    }

    @Test func aSingleStringCommandIsOneExecutableNeverSplit() throws {
        let config = try parse([
            "forge: {local: {origin: /o.git}}",
            "agent:",
            "  kind: gemini",
            "  command: /opt/my tools/gemini",
            "  prompt: stdin",
        ])

        #expect(config.agent.command == ["/opt/my tools/gemini"])
        #expect(config.agent.prompt == .stdin)
    }

    // MARK: - Paths

    @Test func relativePathsResolveAgainstTheDirectoryHoldingKeelYml() throws {
        let config = try parse(
            [
                "store: {sqlite: ./db/../db/keel.sqlite}",
                "forge: {local: {origin: ../../repos/origin.git}}",
                "agent: {kind: sample}",
                "workspaces: /tmp//ws/./a/..",
                "transcripts: t",
            ],
            baseDirectory: "/home/me/projects/app/"
        )

        #expect(config.store.sqlite == "/home/me/projects/app/db/keel.sqlite")
        #expect(config.forge.local.origin == "/home/me/repos/origin.git")
        #expect(config.workspaces == "/tmp/ws")
        #expect(config.transcripts == "/home/me/projects/app/t")
        #expect(config.project == "app")
    }

    @Test func anOriginURLIsKeptExactlyAsWritten() throws {
        let config = try parse(["forge: {local: {origin: 'file:///srv/git/../origin.git'}}", "agent: {kind: sample}"])

        #expect(config.forge.local.origin == "file:///srv/git/../origin.git")
    }

    @Test(arguments: [
        ("../ledger-backup.git", "/srv/ledger-backup.git"),
        ("backups/./ledger.git", "/srv/app/backups/ledger.git"),
        ("/mnt/disk2/ledger.git", "/mnt/disk2/ledger.git"),
        ("file:///mnt/disk2/../ledger.git", "file:///mnt/disk2/../ledger.git"),
        ("ssh://git@backup.example.com:2222/keel/ledger.git", "ssh://git@backup.example.com:2222/keel/ledger.git"),
        ("git@github.com:acme/keel-ledger.git", "git@github.com:acme/keel-ledger.git"),
        ("./copies/a@b:c.git", "/srv/app/copies/a@b:c.git"),
    ])
    func aBackupRemotePathResolvesWhileGitAddressesAreKept(written: String, remote: String) throws {
        let config = try parse(minimal + ["ledger:", "  backup:", "    remote: '\(written)'"])

        #expect(config.ledger.backup?.remote == remote)
    }

    @Test func loadReadsTheFileAndResolvesPathsBesideIt() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("keel-config-\(UUID().uuidString)")
            .appendingPathComponent("shop")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let file = directory.appendingPathComponent("keel.yml")
        try (minimal.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)

        let config = try KeelConfig.load(path: file.path)

        let parent = directory.deletingLastPathComponent().standardizedFileURL.path
        #expect(config.project == "shop")
        #expect(config.forge.local.origin == parent + "/origin.git")
        #expect(config.store.sqlite == directory.standardizedFileURL.path + "/.keel/keel.sqlite")
    }

    // MARK: - Errors

    @Test func aMissingFileSaysSoAndSuggestsKeelInit() throws {
        let path = "/nonexistent-\(UUID().uuidString)/keel.yml"
        let error = try #require(throws: ConfigError.self) { try KeelConfig.load(path: path) }

        #expect(error.code == .fileNotFound)
        #expect(error.line == nil)
        #expect(error.description == "\(path): no such file; run `keel init` to create one")
    }

    @Test func anUnknownKeyNamesItsLineAndTheKeysAllowedThere() throws {
        let error = try #require(
            failure(minimal + [
                "scheduler:",
                "  workers: 3",
                "  wrokers: 4",
            ])
        )

        #expect(error.code == .unknownKey)
        #expect(error.line == 8)
        #expect(error.key == "scheduler.wrokers")
        #expect(
            error.description
                == "keel.yml:8: scheduler.wrokers: unknown key; expected one of workers, lease_seconds, poll_milliseconds,"
                + " breaker_threshold, backoff (did you mean workers?)"
        )
    }

    @Test func anUnknownTopLevelKeyIsRejected() throws {
        let error = try #require(failure(["projcet: x"] + minimal))

        #expect(error.code == .unknownKey)
        #expect(error.line == 1)
        #expect(error.key == "projcet")
        #expect(error.message.contains("did you mean project?"))
        #expect(
            error.message.contains("project, tenant, store, forge, ci, inspect, agent, scheduler, server, workspaces, transcripts, ledger, alerts")
        )
    }

    @Test func anUnknownKeyInsideACommandIsRejected() throws {
        let error = try #require(failure(minimal + ["inspect:", "  checks:", "    - {name: lint, command: sh lint.sh}"]))

        #expect(error.code == .unknownKey)
        #expect(error.line == 8)
        #expect(error.key == "inspect.checks[0].command")
        #expect(error.message == "unknown key; expected one of name, run")
    }

    @Test func aMissingRequiredKeyPointsAtTheMappingThatShouldHoldIt() throws {
        let error = try #require(
            failure([
                "tenant: acme",
                "forge:",
                "  local:",
                "    base: main",
                "agent: {kind: codex}",
            ])
        )

        #expect(error.code == .missingKey)
        #expect(error.line == 3)
        #expect(error.key == "forge.local.origin")
        #expect(error.description == "keel.yml:3: forge.local.origin: missing required key: the path or file URL of the bare origin repository")
    }

    @Test func aMissingTopLevelSectionIsNamed() throws {
        let error = try #require(failure(["# a comment", "forge: {local: {origin: /o.git}}"]))

        #expect(error.code == .missingKey)
        #expect(error.key == "agent")
        #expect(error.line == 2)
    }

    @Test func anEmptyFileAsksForTheForgeFirst() throws {
        let error = try #require(failure(["# nothing yet"]))

        #expect(error.code == .missingKey)
        #expect(error.key == "forge")
        #expect(error.line == nil)
        #expect(error.description.hasPrefix("keel.yml: forge: missing required key"))
    }

    @Test func aCommandAgentWithoutACommandIsRejected() throws {
        let error = try #require(
            failure([
                "forge: {local: {origin: /o.git}}",
                "agent:",
                "  kind: command",
                "  prompt: stdin",
            ])
        )

        #expect(error.code == .missingKey)
        #expect(error.line == 2)
        #expect(error.key == "agent.command")
    }

    @Test func aWrongTypeNamesTheLineKeyExpectationAndValue() throws {
        let lines = minimal + [
            "  prompt: stdin",
            "ci:",
            "  commands: []",
            "inspect:",
            "  checks: []",
            "server:",
            "  port: 8765",
            "scheduler:",
            "  workers: two",
        ]
        let error = try #require(failure(lines))

        #expect(error.code == .invalidValue)
        #expect(error.line == 14)
        #expect(error.key == "scheduler.workers")
        #expect(error.description == "keel.yml:14: scheduler.workers: expected an integer from 1 to 64, found \"two\"")
    }

    @Test func anUnknownAgentKindListsTheKnownOnes() throws {
        let error = try #require(
            failure([
                "forge: {local: {origin: /o.git}}",
                "agent:",
                "  kind: claud",
            ])
        )

        #expect(error.code == .invalidValue)
        #expect(
            error.description
                == "keel.yml:3: agent.kind: unknown agent \"claud\"; expected one of claude-code, codex, gemini, aider, command, sample"
        )
    }

    @Test(arguments: [
        (["scheduler: {workers: 65}"], 6, "scheduler.workers", "expected an integer from 1 to 64, found 65"),
        (["scheduler:", "  lease_seconds: 1"], 7, "scheduler.lease_seconds", "expected an integer of at least 2, found 1"),
        (["scheduler:", "  backoff:", "    jitter: 1.5"], 8, "scheduler.backoff.jitter", "expected a number from 0 to 1, found 1.5"),
        (
            ["scheduler:", "  backoff:", "    initial_seconds: 60", "    max_seconds: 30"], 9, "scheduler.backoff.max_seconds",
            "expected an integer of at least initial_seconds (60), found 30"
        ),
        (["server:", "  port: 70000"], 7, "server.port", "expected an integer from 0 to 65535, found 70000"),
        (["server:", "  port:", "    - 1"], 7, "server.port", "expected an integer from 0 to 65535, found a list"),
        (["ci:", "  commands: sh run.sh"], 7, "ci.commands", "expected a list, found \"sh run.sh\""),
        (
            ["ci:", "  commands:", "    - sh a.sh", "    - {name: sh a.sh, run: sh b.sh}"], 9, "ci.commands[1]",
            "name \"sh a.sh\" is already used by ci.commands[0]; give each its own name"
        ),
        (["  prompt: pipe"], 6, "agent.prompt", "unknown prompt mode \"pipe\"; expected one of stdin, argument, file"),
        (
            ["  command: []"], 6, "agent.command",
            "expected a non-empty list of strings (executable, then arguments) or a single executable, found a list"
        ),
        (["  env:", "    TOKEN: [a, b]"], 7, "agent.env.TOKEN", "expected a string, found a list"),
        (["  timeouts: 30"], 6, "agent.timeouts", "expected a mapping of keys to values, found 30"),
        (["tenant: ''"], 6, "tenant", "expected a tenant name, found \"\""),
    ])
    func anInvalidValueIsReportedWhereItIs(extra: [String], line: Int, key: String, message: String) throws {
        let error = try #require(failure(minimal + extra))

        #expect(error.code == .invalidValue)
        #expect(error.line == line)
        #expect(error.key == key)
        #expect(error.message == message)
    }

    @Test(arguments: [
        (
            ["ledger:", "  backup:", "    branch: audit"], 7, "ledger.backup.remote",
            "the path, URL or user@host:path of the git repository the ledger is backed up to"
        ),
        (["ledger:", "  backup:"], 7, "ledger.backup.remote", "the path, URL or user@host:path of the git repository the ledger is backed up to"),
        (
            ["alerts:", "  telegram:", "    bot_token_env: TG_TOKEN"], 7, "alerts.telegram.chat_id",
            "the chat to alert: its id, e.g. chat_id: \"-1001234567890\", or \"@channelusername\""
        ),
        (
            ["alerts:", "  email:", "    from: keel@example.com", "    to: oncall@example.com"], 7, "alerts.email.host",
            "the SMTP server, e.g. host: smtp.example.com"
        ),
        (
            ["alerts:", "  email:", "    host: smtp.example.com", "    to: oncall@example.com"], 7, "alerts.email.from",
            "the sender's address, e.g. from: keel@example.com"
        ),
        (
            ["alerts:", "  email:", "    host: smtp.example.com", "    from: keel@example.com"], 7, "alerts.email.to",
            "the addresses to alert, e.g. to: [oncall@example.com]"
        ),
        (
            ["alerts:", "  webhook: {secret_env: HOOK_SECRET}"], 7, "alerts.webhook.url",
            "where to post alerts, e.g. url: https://hooks.example.com/keel"
        ),
    ])
    func aMissingKeyInAnOptionalSectionPointsAtTheSection(extra: [String], line: Int, key: String, what: String) throws {
        let error = try #require(failure(minimal + extra))

        #expect(error.code == .missingKey)
        #expect(error.line == line)
        #expect(error.key == key)
        #expect(error.message == "missing required key: \(what)")
    }

    @Test(arguments: [
        (
            ["alerts:", "  telegram:", "    chat_id: \"-100\"", "    bot_token: abc"], 9, "alerts.telegram.bot_token", "bot_token_env",
            "KEEL_TELEGRAM_BOT_TOKEN"
        ),
        (
            ["alerts:", "  email:", "    host: smtp.example.com", "    username: keel", "    password: x"], 10, "alerts.email.password",
            "password_env",
            "KEEL_SMTP_PASSWORD"
        ),
        (
            ["alerts:", "  slack:", "    webhook_url: https://hooks.slack.com/services/T0/B0/X"], 8, "alerts.slack.webhook_url", "webhook_url_env",
            "KEEL_SLACK_WEBHOOK_URL"
        ),
        (
            ["alerts:", "  webhook: {url: \"https://h.example.com\", secret: s3cret}"], 7, "alerts.webhook.secret", "secret_env",
            "KEEL_WEBHOOK_SECRET"
        ),
        (["server:", "  admin_token: hunter2"], 7, "server.admin_token", "admin_token_env", "KEEL_ADMIN_TOKEN"),
    ])
    func aSecretWrittenInTheFileIsRejectedWithTheKeyToUseInstead(extra: [String], line: Int, key: String, envKey: String, example: String) throws {
        let error = try #require(failure(minimal + extra))

        #expect(error.code == .unknownKey)
        #expect(error.line == line)
        #expect(error.key == key)
        #expect(
            error.description
                == "keel.yml:\(line): \(key): secrets are never written in keel.yml; put this one in an environment variable"
                + " and name the variable with \(envKey), e.g. \(envKey): \(example)"
        )
    }

    @Test(arguments: [
        (
            ["alerts:", "  telegram:", "    chat_id: \"-100\"", "    bot_token_env: 123456:AAH-secret-token"], 9, "alerts.telegram.bot_token_env",
            "123456"
        ),
        (["alerts:", "  email: {host: h, from: a@b, to: c@d, password_env: KEEL SMTP}"], 7, "alerts.email.password_env", "KEEL SMTP"),
        (["alerts:", "  slack: {webhook_url_env: \"https://hooks.slack.com/services/T0/B0/X\"}"], 7, "alerts.slack.webhook_url_env", "hooks.slack"),
        (["alerts:", "  webhook: {url: \"https://h.example.com\", secret_env: 1SECRET}"], 7, "alerts.webhook.secret_env", "1SECRET"),
        (["server:", "  admin_token_env: KEEL-ADMIN"], 7, "server.admin_token_env", "KEEL-ADMIN"),
        (["server:", "  admin_token_env: ''"], 7, "server.admin_token_env", "''"),
    ])
    func aBadEnvironmentVariableNameIsRejectedWithoutRepeatingIt(extra: [String], line: Int, key: String, written: String) throws {
        let error = try #require(failure(minimal + extra))

        #expect(error.code == .invalidValue)
        #expect(error.line == line)
        #expect(error.key == key)
        #expect(
            error.message
                == "expected the name of an environment variable (letters, digits and _, not starting with a digit),"
                + " found text that is not one (not shown here: it may be the secret itself)"
        )
        #expect(!error.description.contains(written))
    }

    @Test(arguments: [
        (
            ["alerts:", "  email: {host: h, from: keel.example.com, to: c@d}"], 7, "alerts.email.from",
            "expected an email address (containing \"@\"), found \"keel.example.com\""
        ),
        (
            ["alerts:", "  email:", "    host: h", "    from: a@b", "    to:", "      - oncall@example.com", "      - lead"], 12,
            "alerts.email.to[1]",
            "expected an email address (containing \"@\"), found \"lead\""
        ),
        (
            ["alerts:", "  email: {host: h, from: a@b, to: oncall}"], 7, "alerts.email.to",
            "expected an email address (containing \"@\"), found \"oncall\""
        ),
        (
            ["alerts:", "  email: {host: h, from: a@b, to: []}"], 7, "alerts.email.to",
            "expected a non-empty list of email addresses (or a single address), found a list"
        ),
        (
            ["alerts:", "  email:", "    host: h", "    from: a@b", "    to: c@d", "    security: tls"], 11, "alerts.email.security",
            "unknown email security \"tls\"; expected one of starttls, none"
        ),
        (["alerts:", "  email: {host: h, port: 0, from: a@b, to: c@d}"], 7, "alerts.email.port", "expected an integer from 1 to 65535, found 0"),
        (["alerts:", "  public_url: keel.example.com"], 7, "alerts.public_url", "expected an http:// or https:// URL, found \"keel.example.com\""),
        (
            ["alerts:", "  public_url: ftp://keel.example.com"], 7, "alerts.public_url",
            "expected an http:// or https:// URL, found \"ftp://keel.example.com\""
        ),
        (["alerts:", "  public_url: https:///x"], 7, "alerts.public_url", "expected an http:// or https:// URL, found \"https:///x\""),
        (
            ["alerts:", "  public_url: http://keel example.com"], 7, "alerts.public_url",
            "expected an http:// or https:// URL, found \"http://keel example.com\""
        ),
        (
            ["alerts:", "  webhook: {url: hooks.example.com/keel}"], 7, "alerts.webhook.url",
            "expected an http:// or https:// URL, found \"hooks.example.com/keel\""
        ),
        (
            ["alerts:", "  telegram: {chat_id: 1, api_base: api.telegram.org}"], 7, "alerts.telegram.api_base",
            "expected an http:// or https:// URL, found \"api.telegram.org\""
        ),
        (["alerts:", "  telegram: {chat_id: ''}"], 7, "alerts.telegram.chat_id", "expected a chat id or @channelusername, found \"\""),
        (["alerts:", "  slack: true"], 7, "alerts.slack", "expected a mapping of keys to values, found \"true\""),
        (["ledger:", "  checkpoint_every: 0"], 7, "ledger.checkpoint_every", "expected an integer of at least 1, found 0"),
        (["ledger:", "  checkpoint_seconds: -5"], 7, "ledger.checkpoint_seconds", "expected an integer of at least 1, found -5"),
        (["ledger:", "  decision_hours: 3 days"], 7, "ledger.decision_hours", "expected an integer of at least 1, found \"3 days\""),
        (["ledger:", "  key: ''"], 7, "ledger.key", "expected a path, found \"\""),
        (["ledger:", "  backup: {remote: /b.git, branch: ''}"], 7, "ledger.backup.branch", "expected a branch name, found \"\""),
    ])
    func anInvalidLedgerOrAlertValueIsReportedWhereItIs(extra: [String], line: Int, key: String, message: String) throws {
        let error = try #require(failure(minimal + extra))

        #expect(error.code == .invalidValue)
        #expect(error.line == line)
        #expect(error.key == key)
        #expect(error.message == message)
    }

    @Test func aMisspelledChannelIsRejectedWithASuggestion() throws {
        let error = try #require(failure(minimal + ["alerts:", "  telegarm:", "    chat_id: 1"]))

        #expect(error.code == .unknownKey)
        #expect(
            error.description
                == "keel.yml:7: alerts.telegarm: unknown key; expected one of public_url, telegram, email, slack, webhook (did you mean telegram?)"
        )
    }

    @Test func aCommandWithoutRunIsMissingItsCommandLine() throws {
        let error = try #require(failure(minimal + ["inspect:", "  checks:", "    - {name: lint}"]))

        #expect(error.code == .missingKey)
        #expect(error.line == 8)
        #expect(error.key == "inspect.checks[0].run")
        #expect(error.message == "missing required key: the command line to run")
    }

    @Test func tabIndentationReportsItsLine() throws {
        let error = try #require(
            failure([
                "forge:",
                "  local:",
                "    origin: /o.git",
                "agent:",
                "\tkind: codex",
            ])
        )

        #expect(error.code == .syntax)
        #expect(error.line == 5)
        #expect(error.key == nil)
        #expect(error.description.hasPrefix("keel.yml:5: invalid YAML: "))
        #expect(error.message.contains("tabs"))
    }

    @Test func brokenYAMLReportsALine() throws {
        let error = try #require(
            failure([
                "forge:",
                "  local:",
                "    origin: /o.git",
                "agent:",
                "  kind: codex",
                "  command: [\"codex\", \"exec\"",
                "scheduler:",
                "  workers: 2",
            ])
        )

        #expect(error.code == .syntax)
        #expect(error.line == 7)
        #expect(error.description.hasPrefix("keel.yml:7: invalid YAML: "))
    }

    @Test func aDuplicatedKeyIsASyntaxErrorWithItsLine() throws {
        let error = try #require(failure(minimal + ["scheduler:", "  workers: 2", "  workers: 3"]))

        #expect(error.code == .syntax)
        #expect(error.line == 7)
        #expect(error.message == "key \"workers\" set more than once in the same mapping; keep one")
    }

    @Test func aSecondYAMLDocumentIsRejected() throws {
        let error = try #require(failure(minimal + ["---", "tenant: acme"]))

        #expect(error.code == .syntax)
        #expect(error.line == 6)
        #expect(error.message == "a second YAML document starts here; keel.yml holds one")
    }

    @Test func aListAtTheTopLevelIsRejected() throws {
        let error = try #require(failure(["- forge", "- agent"]))

        #expect(error.code == .invalidValue)
        #expect(error.line == 1)
        #expect(error.description == "keel.yml:1: expected a mapping of keys to values, found a list")
    }

    // MARK: - Template

    @Test(arguments: KeelConfig.AgentKind.allCases)
    func theTemplateForEachAgentParsesBackToWhatWasChosen(kind: KeelConfig.AgentKind) throws {
        let origin = "/srv/git repos/team:one/origin.git"
        let text = ConfigTemplate.render(agent: kind, origin: origin, base: "release/2.0", ciCommands: ["sh tests/run.sh", "make lint"])

        let config = try KeelConfig.parse(text, file: "keel.yml", baseDirectory: "/srv/app")

        #expect(config.agent.kind == kind)
        #expect(config.agent.command == ConfigTemplate.defaultCommand(for: kind))
        #expect(config.agent.prompt == ConfigTemplate.defaultPromptMode(for: kind))
        #expect(config.forge.local.origin == origin)
        #expect(config.forge.local.base == "release/2.0")
        #expect(config.ci.commands.map(\.run) == ["sh tests/run.sh", "make lint"])
        // Everything else in the template is the defaults, written out.
        let defaults = try KeelConfig.parse(
            "forge: {local: {origin: x}}\nagent: {kind: sample}\n",
            file: "keel.yml",
            baseDirectory: "/srv/app"
        )
        #expect(config.scheduler == defaults.scheduler)
        #expect(config.server == defaults.server)
        #expect(config.agent.timeouts == defaults.agent.timeouts)
        #expect(config.store == defaults.store)
        #expect(config.workspaces == defaults.workspaces)
        #expect(config.transcripts == defaults.transcripts)
        #expect(config.tenant == defaults.tenant)
        #expect(config.project == "app")
        #expect(config.ledger == defaults.ledger)
        #expect(config.alerts == defaults.alerts)
    }

    @Test func theTemplatesCommentedOutSectionsParseOnceUncommented() throws {
        let text = ConfigTemplate.render(agent: .claudeCode, origin: "../origin.git", base: "main", ciCommands: [])
        // What a person does to turn them on: remove the "# " in front of the section's lines.
        let headers: Set<String> = ["  # backup:", "  # telegram:", "  # email:", "  # slack:", "  # webhook:"]
        var inLedgerOrAlerts = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line == "ledger:" { inLedgerOrAlerts = true }
            guard inLedgerOrAlerts else { return String(line) }
            if headers.contains(String(line)) || line.hasPrefix("  #   ") || line.hasPrefix("  # public_url: \"") {
                return "  " + line.dropFirst(4)
            }
            return String(line)
        }
        #expect(lines.filter { $0.hasPrefix("    remote:") || $0.hasPrefix("    chat_id:") }.count == 2)

        let config = try KeelConfig.parse(lines.joined(separator: "\n"), file: "keel.yml", baseDirectory: "/srv/app")

        #expect(config.ledger.backup == KeelConfig.LedgerBackupConfig(remote: "/srv/ledger-backup.git", branch: "keel-ledger"))
        #expect(
            config.alerts
                == KeelConfig.Alerts(
                    publicURL: "https://keel.example.com",
                    telegram: .init(chatID: "-1001234567890"),
                    email: .init(
                        host: "smtp.example.com",
                        from: "keel@example.com",
                        to: ["oncall@example.com"],
                        username: "keel@example.com"
                    ),
                    slack: .init(),
                    webhook: .init(url: "https://hooks.example.com/keel", secretEnv: "KEEL_WEBHOOK_SECRET")
                )
        )
    }

    @Test func theTemplatesTokenBrokerParsesOnceUncommented() throws {
        let text = ConfigTemplate.render(agent: .claudeCode, origin: "../origin.git", base: "main", ciCommands: [])
        var inBroker = false
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line == "  # token_broker:" { inBroker = true; return "  token_broker:" }
            if inBroker && line.hasPrefix("  #   ") { return "  " + line.dropFirst(4) }
            if !line.hasPrefix("  #") { inBroker = false }
            return String(line)
        }

        let config = try KeelConfig.parse(lines.joined(separator: "\n"), file: "keel.yml", baseDirectory: "/srv/app")

        #expect(
            config.agent.tokenBroker
                == KeelConfig.TokenBrokerSettings(
                    credentials: NSHomeDirectory() + "/.claude/.credentials.json", tokenURL: "https://auth.example.com/oauth/token",
                    clientID: "my-client-id", variable: "KEEL_ACCESS_TOKEN"))
    }

    @Test func aTokenBrokerTakesItsDefaultsAndResolvesTheCredentialsBesideKeelYml() throws {
        let config = try parse(minimal + [
            "  token_broker: {credentials: secrets/creds.json, token_url: \"http://127.0.0.1:9/token\", client_id: \"\"}",
        ])
        let broker = try #require(config.agent.tokenBroker)
        #expect(broker.credentials == "/srv/app/secrets/creds.json")
        #expect(broker.layout == .claudeCode && broker.body == .form && broker.minimumLifetimeSeconds == 300)
        #expect(broker.clientID == "" && broker.scope == nil && broker.variable == nil)
        #expect(try parse(minimal).agent.tokenBroker == nil)
    }

    @Test(arguments: [
        ("  token_broker: {credentials: c.json, client_id: k}", "agent.token_broker.token_url", "missing required key"),
        ("  token_broker: {credentials: c.json, token_url: \"ftp://x/\", client_id: k}", "agent.token_broker.token_url", "http"),
        ("  token_broker: {token_url: \"http://x/t\", client_id: k}", "agent.token_broker.credentials", "refresh token"),
        ("  token_broker: {credentials: c.json, token_url: \"http://x/t\"}", "agent.token_broker.client_id", "client id"),
        ("  token_broker: {credentials: c.json, token_url: \"http://x/t\", client_id: k, layout: json}", "agent.token_broker.layout", "claude-code"),
        ("  token_broker: {credentials: c.json, token_url: \"http://x/t\", client_id: k, variable: \"A B\"}", "agent.token_broker.variable", "variable"),
        ("  token_broker: {credentials: c.json, token_url: \"http://x/t\", client_id: k, refresh_token: abc}", "agent.token_broker.refresh_token", "unknown key"),
    ])
    func aBadTokenBrokerSectionNamesTheKey(line: String, key: String, says: String) throws {
        let error = try #require(failure(minimal + [line]))
        #expect(error.key == key, "\(error)")
        #expect(error.line == 6)
        #expect(error.description.contains(says), "\(error)")
    }

    @Test func theReviewerIsAnAgentSectionOfItsOwn() throws {
        let config = try parse(minimal + [
            "inspect:",
            "  min_confidence: 0.7",
            "  reviewer:",
            "    kind: codex",
            "    model: gpt-5",
            "    timeouts: {inactivity_seconds: 60}",
        ])
        let reviewer = try #require(config.inspect.reviewer)
        #expect(reviewer.kind == .codex && reviewer.model == "gpt-5" && reviewer.timeouts.inactivitySeconds == 60)
        #expect(reviewer.command == ConfigTemplate.defaultCommand(for: .codex) && reviewer.prompt == .argument)
        #expect(config.inspect.minConfidence == 0.7)
        #expect(try parse(minimal).inspect.reviewer == nil)
        let error = try #require(failure(minimal + ["inspect:", "  reviewer: {kind: command}"]))
        #expect(error.key == "inspect.reviewer.command", "\(error)")
        let broker = try #require(failure(minimal + ["inspect:", "  reviewer: {kind: codex, token_broker: {}}"]))
        #expect(broker.key == "inspect.reviewer.token_broker" && broker.description.contains("unknown key"), "\(broker)")
    }

    @Test func thePlannerAgentIsOptional() throws {
        #expect(try parse(minimal + ["planner: {agent: {kind: gemini}}"]).planner?.kind == .gemini)
        #expect(try parse(minimal).planner == nil)
        let error = try #require(failure(minimal + ["planner: {kind: gemini}"]))
        #expect(error.key == "planner.kind" && error.description.contains("unknown key"), "\(error)")
    }

    @Test func theMarshalsResolverAndThresholdAreRead() throws {
        let config = try parse(minimal + ["marshal: {agent: {kind: claude-code, model: claude-sonnet-4-5}, min_confidence: 0.75}"])
        #expect(config.marshal.agent?.kind == .claudeCode && config.marshal.agent?.model == "claude-sonnet-4-5")
        #expect(config.marshal.minConfidence == 0.75)
        #expect(try parse(minimal).marshal == KeelConfig.Marshal(agent: nil, minConfidence: 0.9))
        let error = try #require(failure(minimal + ["marshal: {min_confidence: 2}"]))
        #expect(error.key == "marshal.min_confidence" && error.description.contains("from 0 to 1"), "\(error)")
    }

    @Test func thePricingTableIsReadInUSDPerMillionTokens() throws {
        let config = try parse(minimal + [
            "  model: gpt-5-codex",
            "pricing:",
            "  gpt-5-codex: {input: 1.25, output: 10, cache_read: 0.125}",
            "  \"anthropic/claude-sonnet-4\": {input: 3, output: 15, cache_read: 0.30, cache_write: 3.75}",
        ])
        #expect(config.agent.model == "gpt-5-codex")
        #expect(config.pricing.price(for: "gpt-5-codex") == ModelPrice(inputPerMillion: 1_250_000, outputPerMillion: 10_000_000, cacheReadPerMillion: 125_000))
        #expect(config.pricing.price(for: "gpt-5-codex")?.cacheWritePerMillion == 1_250_000, "cache writes default to the input price")
        #expect(config.pricing.price(for: "anthropic/claude-sonnet-4")?.cacheWritePerMillion == 3_750_000)
        #expect(try parse(minimal).pricing.isEmpty && (try parse(minimal).agent.model) == nil)
    }

    @Test(arguments: [
        ("pricing: {m: {input: 1}}", "pricing.m.output", "missing required key"),
        ("pricing: {m: {input: 1, output: free}}", "pricing.m.output", "an amount in USD"),
        ("pricing: {m: {input: 1, output: 2, per: token}}", "pricing.m.per", "unknown key"),
        ("pricing: [gpt-5]", "pricing", "mapping"),
    ])
    func aBadPricingEntryNamesTheKey(line: String, key: String, says: String) throws {
        let error = try #require(failure(minimal + [line]))
        #expect(error.key == key, "\(error)")
        #expect(error.description.contains(says), "\(error)")
    }

    @Test func budgetsAreReadInUSDAndOmittedCeilingsMeanNoBudget() throws {
        let config = try parse(minimal + ["budgets: {issue_usd: 2.5, tenant_usd: 1000, period: day, estimate_usd: 0.25}"])
        #expect(config.budgets == BudgetPolicy(estimateMicros: 250_000, issueMicros: 2_500_000, tenantMicros: 1_000_000_000, period: .day))
        #expect(try parse(minimal + ["budgets: {repo_usd: 40}"]).budgets == BudgetPolicy(estimateMicros: 1_000_000, repoMicros: 40_000_000))
        #expect(try parse(minimal + ["budgets: {estimate_usd: 3}"]).budgets == nil)
        #expect(try parse(minimal).budgets == nil)
    }

    @Test(arguments: [
        ("budgets: {issue_usd: -1}", "budgets.issue_usd", "an amount in USD"),
        ("budgets: {repo_usd: lots}", "budgets.repo_usd", "an amount in USD"),
        ("budgets: {tenant_usd: 0.5}", "budgets.tenant_usd", "at least estimate_usd ($1.00)"),
        ("budgets: {issue_usd: 5, period: week}", "budgets.period", "total, day, month"),
        ("budgets: {issue: 5}", "budgets.issue", "unknown key"),
    ])
    func aBadBudgetNamesTheKey(line: String, key: String, says: String) throws {
        let error = try #require(failure(minimal + [line]))
        #expect(error.key == key, "\(error)")
        #expect(error.description.contains(says), "\(error)")
    }

    @Test func theTemplateQuotesStringsYAMLWouldMisread() throws {
        let awkward = [
            "echo \"done\" # not a comment",
            "- starts like a list item",
            "key: value",
            "C:\\tools\\run.cmd",
            "*star & ampersand",
            "true",
            "printf 'a\tb'\nexit 0",
            "bell\u{07} and nel\u{85} and \u{2028}",
        ]
        let text = ConfigTemplate.render(agent: .codex, origin: "./repo: 'main' #1", base: "@{upstream}", ciCommands: awkward)

        let config = try KeelConfig.parse(text, file: "keel.yml", baseDirectory: "/srv/app")

        #expect(config.forge.local.origin == "/srv/app/repo: 'main' #1")
        #expect(config.forge.local.base == "@{upstream}")
        #expect(config.ci.commands.map(\.run) == awkward)
    }

    @Test func theTemplateWithNoCIStillParses() throws {
        let text = ConfigTemplate.render(agent: .sample, origin: "../origin.git", base: "main", ciCommands: [])

        let config = try KeelConfig.parse(text, file: "keel.yml", baseDirectory: "/srv/app")

        #expect(config.ci.commands.isEmpty)
        #expect(config.forge.local.origin == "/srv/origin.git")
    }

    @Test func theTemplateExplainsEveryKey() {
        let text = ConfigTemplate.render(agent: .claudeCode, origin: "../origin.git", base: "main", ciCommands: [])
        let keys = [
            "project", "tenant", "sqlite", "origin", "base", "commands", "timeout_seconds", "checks", "kind", "command", "prompt",
            "env", "wall_clock_seconds", "inactivity_seconds", "workers", "lease_seconds", "poll_milliseconds", "breaker_threshold",
            "initial_seconds", "max_seconds", "jitter", "host", "port", "admin_token_env", "workspaces", "transcripts",
            "key", "checkpoint_every", "checkpoint_seconds", "decision_hours", "backup", "remote", "branch",
            "public_url", "telegram", "bot_token_env", "chat_id", "api_base", "email", "from", "to", "username", "password_env",
            "security", "slack", "webhook_url_env", "webhook", "url", "secret_env",
        ]
        for key in keys {
            #expect(text.contains("# \(key): "), "no comment explains \(key)")
        }
        let sections = [
            "store:", "forge:", "  local:", "ci:", "inspect:", "agent:", "  timeouts:", "scheduler:", "  backoff:", "server:", "ledger:", "alerts:",
        ]
        for section in sections {
            #expect(text.contains("\n\(section)\n"), "section \(section) is missing")
        }
    }

    @Test func theCommandTemplateDescribesTheAgentContract() {
        let text = ConfigTemplate.render(agent: .command, origin: "../origin.git", base: "main", ciCommands: [])

        for name in ["KEEL_ITEM_ID", "KEEL_ATTEMPT", "KEEL_TASK_FILE", "KEEL_HISTORY_FILE", "KEEL_WORKSPACE"] {
            #expect(text.contains(name))
        }
        #expect(text.contains("stdin"))
        #expect(text.contains("Exit 0"))
        #expect(text.contains("\"type\":\"result\""))
        #expect(text.contains("num_turns"))
        #expect(text.contains("total_cost_usd"))
        #expect(text.contains("command: [\"./keel-agent.sh\"]"))
    }
}

@Suite struct ClassifierRuleConfigTests {
    let base = "forge: {local: {origin: /srv/o.git}}\nagent: {kind: command, command: [./a.sh]}\n"

    @Test func userRulesAreReadInOrderAndComeFirst() throws {
        let config = try KeelConfig.parse(
            base + "classifier:\n  rules:\n    - {name: vpn-flap, class: transient, contains: \"tun0: link down\"}\n    - {name: quota, class: wait, regex: 'quota window \\d+ closed', retry_after_seconds: 900}\n",
            file: "keel.yml", baseDirectory: "/srv")
        #expect(config.classifierRules.map(\.name) == ["vpn-flap", "quota"])
        let classifier = ErrorClassifier(extraRules: config.classifierRules)
        let verdict = classifier.classify("quota window 12 closed", now: Date())
        #expect(verdict.class == .wait && verdict.rule == "quota" && verdict.retryAfterSeconds == 900)
    }

    @Test func aBadRuleNamesItsLine() {
        for (rule, text) in [
            ("{name: x, class: transient, contains: a, regex: b}", "exactly one of contains"),
            ("{name: x, class: policy, contains: a}", "policy"),
            ("{name: x, class: transient, regex: '('}", "regular expression"),
            ("{name: x, class: sometimes, contains: a}", "class"),
        ] {
            do {
                _ = try KeelConfig.parse(base + "classifier:\n  rules:\n    - \(rule)\n", file: "keel.yml", baseDirectory: "/srv")
                Issue.record("accepted \(rule)")
            } catch {
                #expect(error.line == 5, "\(rule): \(error)")
                #expect(error.description.lowercased().contains(text), "\(rule): \(error)")
            }
        }
    }
}
