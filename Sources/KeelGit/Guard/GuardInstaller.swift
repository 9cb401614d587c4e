import Foundation

/// Installs Keel's pre-push guard as a repository's `pre-push` hook.
///
/// The hook is a small `sh` script that runs `<keel> guard pre-push "$@"` with git's standard
/// input. It passes the guard's verdict on (0 lets the push go, 1 refuses it) and stays
/// fail-safe itself: when the keel binary is gone, or the guard dies any other way (a crash, a
/// usage error), it warns and lets the push through.
///
/// ```swift
/// let hook = try await GuardInstaller.install(in: clone, keelExecutable: "/usr/local/bin/keel")
/// // hook == "<clone>/.git/hooks/pre-push"
/// ```
public enum GuardInstaller {
    /// The line that marks a hook as Keel's own, which ``install(in:keelExecutable:git:)`` may
    /// overwrite.
    public static let signature = "# keel-guard: Keel's pre-push guard, written by `keel guard install` (rewritten on every install)."

    /// Writes the hook into `repository`'s hooks directory (`core.hooksPath` honoured) and makes
    /// it executable. Installing again, for instance with another keel path, rewrites it.
    ///
    /// - Parameters:
    ///   - repository: a working tree (any directory inside it) or a git directory.
    ///   - keelExecutable: the absolute path of the keel binary the hook runs.
    /// - Returns: the hook's path.
    /// - Throws: ``GitError`` with code ``GitError/Code-swift.struct/foreignHook`` when a
    ///   `pre-push` hook that is not Keel's exists (it is left alone), or when `repository` is
    ///   not a git repository.
    @discardableResult
    public static func install(in repository: String, keelExecutable: String, git: Git = Git()) async throws -> String {
        let hooksOutput = try await git.execute(["rev-parse", "--git-path", "hooks"], in: repository)
        guard hooksOutput.status == 0 else {
            throw GitError(
                code: .commandFailed,
                message: "\(repository) is not a git repository: run keel guard install inside a clone, or pass --repo with one.",
                command: hooksOutput.invocation.fullArguments,
                exitStatus: hooksOutput.status,
                standardError: hooksOutput.stderr
            )
        }
        let reported = hooksOutput.stdout.trimmingCharacters(in: .newlines)
        let hooks = URL(fileURLWithPath: reported, relativeTo: URL(fileURLWithPath: repository, isDirectory: true)).standardizedFileURL
        let hook = hooks.appendingPathComponent("pre-push")
        let script = self.script(keelExecutable: keelExecutable)
        let files = FileManager.default

        if files.fileExists(atPath: hook.path) {
            let existing = (try? String(contentsOf: hook, encoding: .utf8)) ?? ""
            let isKeels = existing.gitLines().contains { $0 == signature }
            guard isKeels else {
                throw GitError(
                    code: .foreignHook,
                    message: "\(hook.path) already exists and is not Keel's: make it run `\(keelExecutable) guard pre-push \"$@\"` "
                        + "(with the same standard input) yourself, or move it away and run keel guard install again.",
                    command: []
                )
            }
        }
        do {
            try files.createDirectory(at: hooks, withIntermediateDirectories: true)
            try Data(script.utf8).write(to: hook, options: .atomic)
            try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
        } catch {
            throw GitError(
                code: .commandFailed,
                message: "Could not write \(hook.path): \(error.localizedDescription). Check that the hooks directory is writable.",
                command: [],
                cause: error
            )
        }
        return hook.path
    }

    /// The hook script for `keelExecutable`.
    public static func script(keelExecutable: String) -> String {
        let keel = "'" + keelExecutable.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return """
            #!/bin/sh
            \(signature)
            # Refuses a push that brings conflict markers or commits from a forbidden branch; see `keel guard --help`.
            # Exit 0 lets the push go, 1 refuses it; anything else is the guard failing, which never blocks a push.
            keel=\(keel)
            if [ ! -x "$keel" ]; then
                echo "keel guard: warning: $keel is missing; the push was not checked" >&2
                exit 0
            fi
            "$keel" guard pre-push "$@"
            status=$?
            if [ "$status" -eq 0 ] || [ "$status" -eq 1 ]; then
                exit "$status"
            fi
            echo "keel guard: warning: the guard failed (exit status $status); the push was not checked" >&2
            exit 0

            """
    }
}

extension GitError.Code {
    /// A hook Keel would install exists already and is not Keel's; it was left alone.
    public static let foreignHook = GitError.Code(name: "foreign_hook")
}
