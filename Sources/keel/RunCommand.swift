import ArgumentParser
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

    func run() async throws {
        let config = try CLI.loadConfig(options)
        let environment: PipelineEnvironment
        do {
            environment = try PipelineEnvironment.standard(
                config: config, configDirectory: options.directory, sampleAgentCommand: CLI.sampleAgentCommand, events: CLI.printer)
        } catch {
            CLI.err("\(error)")
            throw ExitCode(1)
        }
        var logger = Logger(label: "keel")
        logger.logLevel = .notice
        let scheduler = Scheduler(environment: environment)
        let app = Application(
            router: KeelHTTP.router(store: environment.store),
            configuration: .init(address: .hostname(config.server.host, port: port ?? config.server.port), serverName: "keel"),
            onServerRunning: { channel in
                CLI.out("keel: serving http://\(config.server.host):\(channel.localAddress?.port ?? 0) (healthz, api/items, metrics)\n")
            },
            logger: logger)
        CLI.out("keel: running \(config.scheduler.workers) workers on \(config.project); Ctrl-C stops gracefully\n")
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: scheduler), .init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        CLI.out("keel: stopped\n")
    }
}
