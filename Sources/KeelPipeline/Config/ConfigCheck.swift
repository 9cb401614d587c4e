import Foundation
public import KeelGit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One thing in a configuration this machine cannot run: what, where (the key), and what to do.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    /// The key at fault, e.g. `agent.command`.
    public var key: String
    /// What is wrong.
    public var what: String
    /// What to do about it.
    public var fix: String

    public init(key: String, what: String, fix: String) {
        self.key = key
        self.what = what
        self.fix = fix
    }

    /// `agent.command: ./agent.sh is not executable; run chmod +x ./agent.sh`.
    public var description: String { "\(key): \(what); \(fix)" }
}

/// What `keel check` (and `keel run` at startup) found out about this machine for a configuration.
/// Gathered by ``ConfigCheck/gather(_:configDirectory:environment:port:git:)``; judged by
/// ``ConfigCheck/problems(_:facts:)`` with no I/O.
public struct MachineFacts: Sendable, Equatable {
    /// Whether the origin answered, and whether it has the base branch.
    public enum Origin: Sendable, Equatable {
        case hasBase
        case noBase
        /// Not reachable, with git's own words.
        case unreachable(String)
    }

    /// For each program named by the configuration (as written), the executable it resolves to,
    /// and whether that is an executable file; nil when nothing by that name was found.
    public var programs: [String: Program]
    /// The process environment (only whether a variable is set and not empty is used).
    public var environment: [String: String]
    public var origin: Origin
    /// The port `keel run` would listen on, and whether it is free (nil: not checked, e.g. port 0).
    public var port: Int
    public var portFree: Bool?

    /// Where a program name led.
    public struct Program: Sendable, Equatable {
        public var path: String
        public var executable: Bool

        public init(path: String, executable: Bool) {
            self.path = path
            self.executable = executable
        }
    }

    public init(programs: [String: Program?], environment: [String: String], origin: Origin, port: Int, portFree: Bool?) {
        self.programs = programs.compactMapValues { $0 }
        self.environment = environment
        self.origin = origin
        self.port = port
        self.portFree = portFree
    }
}

/// Validates a configuration against the machine before any item is spent: the agents' programs
/// exist and are executable, the origin is reachable and has the base branch, the CI and inspect
/// commands' programs exist, every environment variable named for a secret is set, the port is free.
///
/// ```swift
/// let facts = await ConfigCheck.gather(config, configDirectory: dir, environment: ProcessInfo.processInfo.environment)
/// for problem in ConfigCheck.problems(config, facts: facts) { print(problem) }
/// ```
public enum ConfigCheck {
    /// The agents a configuration runs, by key: `agent`, and `inspect.reviewer`, `marshal.agent`, `planner` when set.
    static func agents(_ config: KeelConfig) -> [(key: String, agent: KeelConfig.Agent)] {
        var agents = [("agent", config.agent)]
        if let reviewer = config.inspect.reviewer { agents.append(("inspect.reviewer", reviewer)) }
        if let marshal = config.marshal.agent { agents.append(("marshal.agent", marshal)) }
        if let planner = config.planner { agents.append(("planner", planner)) }
        return agents.filter { $0.1.kind != .sample }
    }

    /// The program an agent starts (its command's first word, or the kind's default).
    static func program(of agent: KeelConfig.Agent) -> String {
        (agent.command.isEmpty ? ConfigTemplate.defaultCommand(for: agent.kind) : agent.command).first ?? ""
    }

    /// The program a shell command line starts: its first word (after `VAR=value` assignments);
    /// nil when that is the shell's own (a keyword or builtin such as `for`, `cd`, `[`) or is
    /// computed (`$RUNNER`, a quote), which only running it can tell.
    static func program(ofShellCommand line: String) -> String? {
        guard let word = line.split(whereSeparator: \.isWhitespace).map(String.init).first(where: { !$0.contains("=") }) else { return nil }
        guard !shellOwn.contains(word), !word.contains(where: { "$`'\"(){};&|<>*?![]".contains($0) }) else { return nil }
        return word
    }

    /// The words `sh` runs itself rather than as a program.
    static let shellOwn: Set<String> = [
        "for", "if", "while", "until", "case", "do", "then", "!", "{", "(", "[", "[[", ".", ":", "alias", "cd", "command", "echo", "eval",
        "exec", "exit", "export", "false", "printf", "read", "return", "set", "source", "test", "trap", "true", "type", "ulimit",
        "umask", "unset", "wait",
    ]

    /// The CI and inspect commands, by key.
    static func shellCommands(_ config: KeelConfig) -> [(key: String, name: String, program: String)] {
        let ci = config.ci.commands.map { ("ci.commands", $0) }
        let inspect = config.inspect.checks.map { ("inspect.checks", $0) }
        return (ci + inspect).compactMap { key, command in
            program(ofShellCommand: command.run).map { (key, command.name, $0) }
        }
    }

    /// The environment variables named for secrets that the configuration needs set, by key.
    static func secrets(_ config: KeelConfig) -> [(key: String, variable: String)] {
        var names: [(String, String)] = []
        if let telegram = config.alerts.telegram { names.append(("alerts.telegram.bot_token_env", telegram.botTokenEnv)) }
        if let email = config.alerts.email, email.username != nil { names.append(("alerts.email.password_env", email.passwordEnv)) }
        if let slack = config.alerts.slack { names.append(("alerts.slack.webhook_url_env", slack.webhookURLEnv)) }
        if let secret = config.alerts.webhook?.secretEnv { names.append(("alerts.webhook.secret_env", secret)) }
        return names
    }

    /// Every program name the configuration uses (agents, then CI and inspect commands).
    static func programNames(_ config: KeelConfig) -> [String] {
        agents(config).map { program(of: $0.agent) } + shellCommands(config).map(\.program)
    }

    /// The problems of `config` on a machine with `facts`, in the order of the file; empty when it can run.
    public static func problems(_ config: KeelConfig, facts: MachineFacts) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        for (key, agent) in agents(config) {
            let program = program(of: agent)
            let commandKey = "\(key).command"
            guard let found = facts.programs[program] else {
                if program.contains(where: \.isWhitespace) {
                    let words = program.split(whereSeparator: \.isWhitespace).joined(separator: ", ")
                    problems.append(
                        ConfigProblem(
                            key: commandKey, what: "\"\(program)\" is one string, so it names one program with spaces in its name",
                            fix: "write the command as a list: command: [\(words)]"))
                } else {
                    problems.append(
                        ConfigProblem(
                            key: commandKey, what: "the agent's program \(program) was not found",
                            fix: program.contains("/")
                                ? "create it (relative paths start at the directory holding keel.yml) or correct the path"
                                : "install it or put it on PATH, or name it by its path"))
                }
                continue
            }
            if !found.executable {
                problems.append(
                    ConfigProblem(key: commandKey, what: "the agent's program \(found.path) is not executable", fix: "run chmod +x \(found.path)"))
            }
        }
        switch facts.origin {
        case .hasBase: break
        case .noBase:
            problems.append(
                ConfigProblem(
                    key: "forge.local.base", what: "the origin \(config.forge.local.origin) has no branch \(config.forge.local.base)",
                    fix: "push \(config.forge.local.base) to it, or set forge.local.base to its default branch"))
        case .unreachable(let why):
            problems.append(
                ConfigProblem(
                    key: "forge.local.origin", what: "the origin \(config.forge.local.origin) cannot be read (\(why))",
                    fix: "check the path or URL and that this user may read it"))
        }
        for (key, name, program) in shellCommands(config) {
            guard let found = facts.programs[program] else {
                problems.append(
                    ConfigProblem(key: key, what: "\(name): the program \(program) was not found", fix: "install it or put it on PATH"))
                continue
            }
            if !found.executable {
                problems.append(ConfigProblem(key: key, what: "\(name): \(found.path) is not executable", fix: "run chmod +x \(found.path)"))
            }
        }
        for (key, variable) in secrets(config) where (facts.environment[variable] ?? "").isEmpty {
            problems.append(
                ConfigProblem(key: key, what: "the environment variable \(variable) is not set", fix: "export \(variable) before starting Keel"))
        }
        if facts.portFree == false {
            problems.append(
                ConfigProblem(
                    key: "server.port", what: "port \(facts.port) on \(config.server.host) is already in use",
                    fix: "stop what listens there, or set server.port (or pass --port; 0 picks a free port)"))
        }
        return problems
    }

    /// Finds out what ``problems(_:facts:)`` needs: where each program resolves, whether the origin
    /// answers with the base branch, whether `port` (default `server.port`) is free.
    public static func gather(
        _ config: KeelConfig, configDirectory: String, environment: [String: String], port: Int? = nil, git: Git = Git()
    ) async -> MachineFacts {
        var programs: [String: MachineFacts.Program?] = [:]
        for name in programNames(config) where programs[name] == nil {
            programs[name] = resolve(name, configDirectory: configDirectory, path: environment["PATH"] ?? "/usr/bin:/bin")
        }
        let origin: MachineFacts.Origin
        do {
            let head = try await git.remoteBranchHead(url: config.forge.local.origin, branch: config.forge.local.base)
            origin = head == nil ? .noBase : .hasBase
        } catch let error as GitError {
            origin = .unreachable(
                error.standardError.split(separator: "\n").first { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(String.init)
                    ?? "git ls-remote failed")
        } catch {
            origin = .unreachable("\(error)")
        }
        let listen = port ?? config.server.port
        return MachineFacts(
            programs: programs, environment: environment, origin: origin, port: listen,
            portFree: listen == 0 ? nil : portIsFree(host: config.server.host, port: listen))
    }

    /// Where `name` leads: a path (`./x`, `../x` and other relative paths from the directory
    /// holding keel.yml, as agents are started), or the first match on `PATH`.
    static func resolve(_ name: String, configDirectory: String, path: String) -> MachineFacts.Program? {
        let fm = FileManager.default
        func at(_ candidate: String) -> MachineFacts.Program? {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
            return MachineFacts.Program(path: candidate, executable: fm.isExecutableFile(atPath: candidate))
        }
        guard !name.isEmpty else { return nil }
        if name.contains("/") {
            let full = name.hasPrefix("/") ? name : URL(fileURLWithPath: name, relativeTo: URL(fileURLWithPath: configDirectory, isDirectory: true)).standardizedFileURL.path
            return at(full)
        }
        for directory in path.split(separator: ":") where !directory.isEmpty {
            if let found = at("\(directory)/\(name)"), found.executable { return found }
        }
        return nil
    }

    /// True when nothing listens on `host:port` yet (a bind there succeeds).
    static func portIsFree(host: String, port: Int) -> Bool {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return true }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        // As the server binds: SO_REUSEADDR, so a port only in TIME_WAIT counts as free.
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        return bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0
    }
}
