import ArgumentParser
import Foundation
import KeelCore
import KeelPipeline
import KeelStore
import Synchronization

/// `--new-store` of `keel run` and `keel submit`.
enum NewStoreFlag {
    static let help = ArgumentHelp(
        "Start a new, empty store although the signing key has signed before or the origin has keel/item-* branches.",
        discussion: "Without it, a missing database is refused where the project shows it had one: put the database back instead.")
}

/// Output helpers: one clear line on stderr and a non-zero exit, never a stack trace.
enum CLI {
    /// Everything printed goes through it: credential shapes always, and the configuration's
    /// secrets once keel.yml is loaded.
    static let redactor = Mutex(SecretRedactor())

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(redact(text).utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data(redact("keel: " + text + "\n").utf8))
    }

    static func redact(_ text: String) -> String {
        redactor.withLock { $0(text) }
    }

    /// Loads keel.yml; a bad file prints its line and key and exits 2.
    static func loadConfig(_ option: ConfigOption) throws -> KeelConfig {
        try loadConfig(path: option.absolutePath)
    }

    static func loadConfig(path: String) throws -> KeelConfig {
        do {
            let config = try KeelConfig.load(path: path)
            let redactor = config.redactor(environment: ProcessInfo.processInfo.environment)
            CLI.redactor.withLock { $0 = redactor }
            return config
        } catch {
            err(error.description)
            throw ExitCode(2)
        }
    }

    /// Runs `keel check`'s checks of `config` against this machine (`keel run` runs them at startup):
    /// with any problem, prints each on its own line, then `summary` of their count ("2 problems"),
    /// and exits 1.
    static func requireNoProblems(_ config: KeelConfig, _ options: ConfigOption, port: Int?, summary: (String) -> String) async throws {
        let facts = await ConfigCheck.gather(
            config, configDirectory: options.directory, environment: ProcessInfo.processInfo.environment, port: port)
        let problems = ConfigCheck.problems(config, facts: facts)
        guard problems.isEmpty else {
            for problem in problems { err(problem.description) }
            err(summary("\(problems.count) problem\(problems.count == 1 ? "" : "s")"))
            throw ExitCode(1)
        }
    }

    /// Opens the store with its signed ledger (the signing key is created on first use). Only
    /// `.create` may start a missing store, and not where the project shows it had one.
    static func openStore(_ config: KeelConfig, _ access: StoreAccess) async throws -> SQLiteStore {
        do {
            return try await StoreOpening.open(config, access: access)
        } catch {
            err("\(error)")
            throw ExitCode(1)
        }
    }

    /// JSON with sorted keys and ISO 8601 dates, as every command prints it.
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.text(date))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// How this binary starts its built-in sample agent.
    static var sampleAgentCommand: [String] {
        [GuardInstallCommand.keelExecutable, "sample-agent"]
    }

    static var operator_: String {
        "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? "operator")
    }

    /// Prints pipeline events as lines, as they happen.
    static let printer = PipelineEventSink { event in out(event.line + "\n") }
}
