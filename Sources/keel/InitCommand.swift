import ArgumentParser
import Foundation
import KeelGit
import KeelPipeline

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented keel.yml for the git repository you are in.",
        discussion: "Refuses to overwrite an existing keel.yml.")

    @OptionGroup var options: ConfigOption
    @Option(help: "The agent to run: claude-code, codex, gemini, aider or command.") var agent: String = "claude-code"
    @Option(help: "The origin to take issues to (default: this repository's `origin` remote).") var origin: String?
    @Option(help: "The base branch (default: the origin's default branch, else main).") var base: String?
    @Option(name: .customLong("ci"), help: "A CI command (repeatable; default: guessed from the repository).") var ci: [String] = []

    func run() async throws {
        guard let kind = KeelConfig.AgentKind(rawValue: agent), kind != .sample else {
            CLI.err("unknown agent \"\(agent)\": use one of claude-code, codex, gemini, aider, command")
            throw ExitCode(2)
        }
        let path = options.absolutePath
        guard !FileManager.default.fileExists(atPath: path) else {
            CLI.err("\(path) already exists; Keel does not overwrite it. Edit it, or move it away and run `keel init` again")
            throw ExitCode(1)
        }
        let git = Git()
        let here = options.directory
        guard let top = try? await git.run(["rev-parse", "--show-toplevel"], in: here).trimmingCharacters(in: .whitespacesAndNewlines),
            !top.isEmpty
        else {
            CLI.err("\(here) is not inside a git repository: run `keel init` in the repository Keel should work on")
            throw ExitCode(1)
        }
        var originURL = origin
        if originURL == nil {
            originURL = try? await git.run(["remote", "get-url", "origin"], in: top).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let originURL, !originURL.isEmpty else {
            CLI.err("this repository has no `origin` remote: pass --origin PATH (a bare repository Keel pushes to and merges into)")
            throw ExitCode(1)
        }
        var baseBranch = base
        if baseBranch == nil, let head = try? await git.run(["ls-remote", "--symref", originURL, "HEAD"], in: top) {
            baseBranch = head.split(separator: "\n").first { $0.hasPrefix("ref: refs/heads/") }
                .map { String($0.dropFirst("ref: refs/heads/".count).prefix { $0 != "\t" }) }
        }
        let commands = ci.isEmpty ? Self.guessCI(in: top) : ci
        let text = ConfigTemplate.render(agent: kind, origin: originURL, base: baseBranch ?? "main", ciCommands: commands)
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .withoutOverwriting)
        } catch {
            CLI.err("cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(1)
        }
        // Keel's working files must never be committed by an agent's `git add -A` in this repository.
        let exclude = top + "/.git/info/exclude"
        if let current = try? String(contentsOfFile: exclude, encoding: .utf8), !current.contains(".keel/") {
            try? Data((current + (current.hasSuffix("\n") || current.isEmpty ? "" : "\n") + ".keel/\n").utf8)
                .write(to: URL(fileURLWithPath: exclude))
        }
        CLI.out(
            """
            Wrote \(path) (agent: \(kind.rawValue), origin: \(originURL), base: \(baseBranch ?? "main")\
            \(commands.isEmpty ? ", no CI commands found: add them under ci.commands" : ", CI: \(commands.joined(separator: "; "))")).

            """)
        if kind == .command, let script = ConfigTemplate.defaultCommand(for: .command).first {
            let exists = FileManager.default.isExecutableFile(atPath: (here as NSString).appendingPathComponent(script))
            CLI.out(
                """
                The command agent runs \(script), next to keel.yml\(exists ? "" : " (not there yet: write it and chmod +x it)"). \
                It reads the task prompt on stdin (KEEL_ITEM_ID, KEEL_ATTEMPT, KEEL_TASK_FILE, KEEL_HISTORY_FILE and \
                KEEL_WORKSPACE are set), changes the files of the directory it starts in (the worker's clone; Keel commits \
                them), and exits 0 when the work is done. It may print a Claude-style result line last to report turns \
                and cost (see the comments in keel.yml).

                """)
        }
        CLI.out("Next: `keel check`, then `keel submit --title \"...\" --body-file issue.md` and `keel run`.\n")
    }

    /// A best guess at the repository's test command.
    static func guessCI(in dir: String) -> [String] {
        let fm = FileManager.default
        func has(_ p: String) -> Bool { fm.fileExists(atPath: dir + "/" + p) }
        if has("tests/run.sh") { return ["sh tests/run.sh"] }
        if has("test.sh") { return ["sh test.sh"] }
        if has("Package.swift") { return ["swift test"] }
        if has("Cargo.toml") { return ["cargo test"] }
        if has("go.mod") { return ["go test ./..."] }
        if has("package.json") { return ["npm test"] }
        if has("pyproject.toml") || has("pytest.ini") { return ["python3 -m pytest"] }
        if let makefile = try? String(contentsOfFile: dir + "/Makefile", encoding: .utf8), makefile.contains("\ntest:") || makefile.hasPrefix("test:") {
            return ["make test"]
        }
        return []
    }
}
