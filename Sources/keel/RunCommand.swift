import ArgumentParser
import AsyncHTTPClient
import KeelCore
import KeelStore
import Foundation
import Hummingbird
import KeelPipeline
import KeelServer
import Logging
import ServiceLifecycle
import UnixSignals

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the resident scheduler and the HTTP server until SIGINT or SIGTERM.",
        discussion: """
            On SIGINT/SIGTERM Keel stops claiming work, stops running agents (their items go back to the queue) and lets \
            short stages finish, so no item is left leased. Killed outright, it recovers on the next start: expired leases \
            are reclaimed and orphaned agents are killed.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "Override server.port (0 picks a free port).") var port: Int?
    @Flag(name: .customLong("new-store"), help: NewStoreFlag.help) var newStore = false

    func run() async throws {
        let config = try CLI.loadConfig(options)
        // The same checks as `keel check`: nothing is claimed on a configuration this machine cannot run.
        try await CLI.requireNoProblems(config, options, port: port) { "keel run does not start with \($0) in \(options.absolutePath); `keel check` lists them" }
        // Every log line is redacted like the rest of Keel's output.
        LoggingSystem.bootstrap { label in RedactingLogHandler(StreamLogHandler.standardError(label: label)) }
        let store = try await CLI.openStore(config, .create(newStore: newStore))
        let environment = PipelineEnvironment.standard(
            config: config, configDirectory: options.directory, store: store, sampleAgentCommand: CLI.sampleAgentCommand,
            events: CLI.printer)
        var logger = Logger(label: "keel")
        logger.logLevel = .notice
        let processEnvironment = ProcessInfo.processInfo.environment
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let listenPort = port ?? config.server.port
        // Alert links follow the port the server really listens on, unless server.public_url says otherwise.
        let links = PublicURL(configured: config.server.publicURL, host: config.server.host, port: listenPort)
        let ledger: LedgerService
        let escalations: EscalationNotifier
        do {
            let channels = try LedgerSetup.channels(config, environment: processEnvironment, httpClient: httpClient)
            let dispatcher =
                channels.isEmpty
                ? nil : AlertDispatcher(channels: channels, logger: logger, redactor: config.redactor(environment: processEnvironment))
            guard let signer = store.ledger?.signer else { throw PipelineError(.misconfigured, "the store was opened without its ledger key") }
            ledger = LedgerService(
                store: store, signer: signer, backup: LedgerSetup.backup(config),
                alerts: dispatcher, publicURL: links, clock: SystemWallClock(), events: CLI.printer)
            // needs_human goes to the same channels as ledger breaks.
            escalations = EscalationNotifier(store: store, alerts: dispatcher, publicURL: links, events: CLI.printer)
            let check = try await ledger.startup()
            let status = try await store.ledgerStatus(now: Date())
            CLI.out(
                "keel: audit ledger \(status.rawValue): \(try await store.ledgerCount()) events, checked \(check.checked) from seq \(check.from)"
                    + (check.restored > 0 ? ", \(check.restored) restored from the backup" : "") + "\n")
        } catch {
            try? await httpClient.shutdown()
            CLI.err("\(error)")
            throw ExitCode(1)
        }
        let adminToken = processEnvironment[config.server.adminTokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        if adminToken == nil {
            CLI.out("keel: \(config.server.adminTokenEnv) is not set: break decisions can be made with `keel ledger resolve` only\n")
        }
        // The token broker holds the refresh token alone; workers borrow over its loopback endpoint.
        var broker: TokenBroker?
        if let settings = config.agent.tokenBroker {
            do {
                broker = try TokenBroker.configured(settings, httpClient: httpClient, logger: logger)
            } catch {
                try? await httpClient.shutdown()
                CLI.err("agent.token_broker: \(error)")
                throw ExitCode(1)
            }
        }
        let serving = Serving(
            store: store, ledger: ledger, escalations: escalations, adminToken: adminToken, host: config.server.host, port: listenPort,
            links: links, logger: logger)
        do {
            if let broker {
                try await TokenBrokerServer.withServer(broker: broker, secret: BearerSecret.random(), logger: logger) { server in
                    CLI.out("keel: token broker lending on \(server.tokenURL); the credential expires \(await broker.expiresAt)\n")
                    var lent = environment
                    lent.tokens = BrokerEndpointTokenSource(
                        client: server.client(httpClient: httpClient), lending: broker.configuration,
                        redacting: { await broker.secretsToRedact })
                    try await serving.run(lent)
                }
            } else {
                try await serving.run(environment)
            }
        } catch {
            try? await httpClient.shutdown()
            // Taken between the startup check and the bind: one line, not the socket layer's error.
            if "\(error)".contains("Address already in use") {
                CLI.err(
                    "port \(listenPort) on \(config.server.host) is already in use: stop what listens there, or set server.port "
                        + "(or pass --port; 0 picks a free port)")
                throw ExitCode(1)
            }
            throw error
        }
        try? await httpClient.shutdown()
        CLI.out("keel: stopped\n")
    }
}

/// The services of `keel run`: the scheduler, the HTTP server and the ledger's ticker, until SIGINT or SIGTERM.
struct Serving: Sendable {
    let store: SQLiteStore
    let ledger: LedgerService
    let escalations: EscalationNotifier
    let adminToken: String?
    let host: String
    let port: Int
    let links: PublicURL
    let logger: Logger

    func run(_ environment: PipelineEnvironment) async throws {
        let config = environment.config
        let ledger = self.ledger
        let app = Application(
            router: KeelHTTP.router(
                store: store, ledger: store, adminToken: adminToken,
                onDecision: { decided in
                    CLI.out("keel: break #\(decided.id) decided on its page: \(decided.decision ?? "?") by \(decided.decidedBy ?? "?")\n")
                    do { try await ledger.backupNow() } catch { CLI.err("ledger backup after a decision failed: \(error)") }
                }),
            configuration: .init(address: .hostname(host, port: port), serverName: "keel"),
            onServerRunning: { [host, port, links] channel in
                let listening = channel.localAddress?.port ?? port
                links.serverListening(host: host, port: listening)
                CLI.out("keel: serving http://\(host):\(listening) (healthz, api/items, api/ledger, breaks, metrics)\n")
            },
            logger: logger)
        CLI.out("keel: running \(config.scheduler.workers) workers on \(config.project); Ctrl-C stops gracefully\n")
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: Scheduler(environment: environment)), .init(service: app),
                    .init(service: Ticker { [links] in
                        // The ledger's alerts and needs_human alerts link to the server: they wait for its port.
                        guard links.isSettled else { return }
                        await ledger.tick()
                    }),
                    .init(service: Ticker { [escalations, links] in
                        guard links.isSettled else { return }
                        do { try await escalations.notifyPending() } catch { CLI.err("needs_human alerts: \(error)") }
                    }),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

/// A periodic duty of `keel run`: the ledger's timeouts, alerts and backups; needs_human alerts.
struct Ticker: Service {
    let body: @Sendable () async -> Void

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await body()
            // The wait ends at once on shutdown, so Ctrl-C is not held up by it.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) }
        }
    }
}
