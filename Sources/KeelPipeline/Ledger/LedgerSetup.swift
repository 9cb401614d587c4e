public import AsyncHTTPClient
public import Foundation
import KeelLedger
public import KeelStore

/// Builds the ledger's parts from `keel.yml`: the signing key, the backup, the alert channels.
public enum LedgerSetup {
    /// The store's ledger settings: the signing key (created, mode 0600, only for a ledger with no
    /// events, and recorded as signing before it signs anything, see ``StoreOpening``) and the
    /// genesis key every verification starts from (see ``LedgerAnchoring``).
    ///
    /// - Throws: when the key is missing for a ledger that has events, or the anchor is missing
    ///   or disagrees; the message says what to restore.
    public static func settings(_ config: KeelConfig, now: Date = Date()) throws -> LedgerSettings {
        let summary = try SQLiteStore.ledgerSummary(atPath: config.store.sqlite)
        let events = summary?.count ?? 0
        let keyFile = KeyFile(path: config.ledger.key)
        let anchor = GenesisAnchor(keyPath: config.ledger.key)
        let pinned = try config.ledger.publicKey.map { try AgentKey(base64: $0) }
        let recorded = try anchor.load()
        let paths = LedgerAnchoring.Paths(key: config.ledger.key, genesis: anchor.path)
        let unix = Int64(now.timeIntervalSince1970)
        var signer: SigningIdentity?
        if events == 0 || FileManager.default.fileExists(atPath: config.ledger.key) {
            signer = try keyFile.loadForSigning(now: unix)
        }
        switch LedgerAnchoring.decide(
            pinned: pinned, recorded: recorded, signer: signer?.key, events: events, firstEvent: summary?.first, paths: paths)
        {
        case .refuse(let line):
            throw PipelineError(.misconfigured, line)
        case .use(let genesis, let record):
            guard let signer else { throw PipelineError(.misconfigured, "there is no signing key at \(config.ledger.key)") }
            if record { try anchor.record(genesis, createdAt: unix) }
            return LedgerSettings(
                signer: signer, genesis: genesis, checkpointEvery: Int64(config.ledger.checkpointEvery),
                checkpointSeconds: TimeInterval(config.ledger.checkpointSeconds),
                decisionWindow: TimeInterval(min(config.ledger.decisionHours, 1_000_000)) * 3600)
        }
    }

    /// The git backup, when `ledger.backup` is configured; its working copy sits next to the key.
    public static func backup(_ config: KeelConfig) -> LedgerBackup? {
        guard let backup = config.ledger.backup else { return nil }
        let directory = (config.ledger.key as NSString).deletingLastPathComponent + "/backup"
        return LedgerBackup(remote: backup.remote, branch: backup.branch, workDirectory: directory)
    }

    /// The configured alert channels. A channel whose secret is missing from the environment is an
    /// error naming the variable: an alert that silently goes nowhere is worse than no start.
    public static func channels(_ config: KeelConfig, environment: [String: String], httpClient: HTTPClient) throws -> [any AlertChannel] {
        func secret(_ name: String, for channel: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else {
                throw PipelineError(
                    .misconfigured,
                    "alerts.\(channel) is configured but the environment variable \(name) is not set: export it, or remove alerts.\(channel) from keel.yml")
            }
            return value
        }
        var channels: [any AlertChannel] = []
        let alerts = config.alerts
        if let telegram = alerts.telegram {
            channels.append(
                TelegramChannel(
                    botToken: try secret(telegram.botTokenEnv, for: "telegram"), chatID: telegram.chatID, apiBase: telegram.apiBase,
                    httpClient: httpClient))
        }
        if let email = alerts.email {
            channels.append(
                EmailChannel(
                    host: email.host, port: email.port, from: email.from, to: email.to, username: email.username,
                    password: email.username == nil ? nil : try secret(email.passwordEnv, for: "email"),
                    security: email.security == .none ? .none : .startTLS))
        }
        if let slack = alerts.slack {
            channels.append(SlackWebhookChannel(url: try secret(slack.webhookURLEnv, for: "slack"), httpClient: httpClient))
        }
        if let webhook = alerts.webhook {
            channels.append(
                WebhookChannel(url: webhook.url, secret: try webhook.secretEnv.map { try secret($0, for: "webhook") }, httpClient: httpClient))
        }
        return channels
    }
}
