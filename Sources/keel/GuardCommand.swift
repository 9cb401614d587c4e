import ArgumentParser
import Foundation
import KeelGit

/// `keel guard`: checks that run where an agent's work leaves the machine.
struct GuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Guards at the seams: refuse a push that brings conflict markers or commits from a forbidden branch.",
        discussion: """
            `keel guard install` makes `keel guard pre-push` the repository's pre-push hook. It refuses a push that adds \
            conflict-marker lines (always), or, when git config keel.guard.base names the branch's base (and \
            keel.guard.allow, repeatable, other permitted sources), one that brings commits from any other branch of the \
            remote. If the guard itself fails it warns and lets the push through.
            """,
        subcommands: [GuardPrePushCommand.self, GuardInstallCommand.self]
    )
}

/// `keel guard pre-push REMOTE URL`, run by git as the pre-push hook.
struct GuardPrePushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pre-push",
        abstract: "Check a push, as git's pre-push hook (arguments: remote name and URL; standard input: the refs).",
        discussion: "Exits 1 with a message naming the files (path:line) or commits at fault, 0 otherwise."
    )

    @Argument(help: "The remote's name and URL, as git passes them to the hook.")
    var remote: [String] = []

    func run() async throws {
        let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        guard let name = remote.first else {
            Self.report(["keel guard: warning: no remote given (git passes the remote's name and URL); the push was not checked"])
            return
        }
        let verdict = await PrePushGuard().check(
            remoteName: name,
            remoteURL: remote.dropFirst().first ?? name,
            hookInput: input,
            in: Self.repository
        )
        Self.report(verdict.report)
        if !verdict.allowsPush { throw ExitCode(1) }
    }

    /// git runs the hook at the top of the working tree, and exports `GIT_DIR` when the push
    /// was given one.
    static var repository: String {
        let cwd = FileManager.default.currentDirectoryPath
        guard let gitDir = ProcessInfo.processInfo.environment["GIT_DIR"], !gitDir.isEmpty else { return cwd }
        return URL(fileURLWithPath: gitDir, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
    }

    static func report(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// `keel guard install [--repo DIR]`.
struct GuardInstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install the guard as the repository's pre-push hook (refuses to replace another hook; rewrites Keel's own)."
    )

    @Option(help: "The repository; the current one when omitted.")
    var repo: String?

    func run() async throws {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let directory = repo.map { URL(fileURLWithPath: $0, relativeTo: cwd).standardizedFileURL.path } ?? cwd.path
        do {
            let hook = try await GuardInstaller.install(in: directory, keelExecutable: Self.keelExecutable)
            CLI.out("Installed Keel's pre-push guard: \(hook)\n")
        } catch let error as GitError {
            CLI.err(error.message.split(whereSeparator: \.isNewline).joined(separator: " "))
            throw ExitCode(1)
        }
    }

    /// This binary's absolute path, symbolic links resolved, so the hook keeps working from any
    /// directory.
    static var keelExecutable: String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        if FileManager.default.isExecutableFile(atPath: exe) && exe != "/proc/self/exe" { return exe }
        if let path = Bundle.main.executablePath { return URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath().path
    }
}
