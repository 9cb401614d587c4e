public import KeelCore

/// What an agent process receives in its environment: an allowlist, never Keel's whole
/// environment. A prompt-injected agent that runs `env` must not find `KEEL_ADMIN_TOKEN` (which
/// decides ledger breaks), the mail password or cloud keys.
///
/// It gets the basics (``basics``, `LC_*`), the variables its kind reads (``variables(of:)``),
/// what `agent.env` in keel.yml sets, and the `KEEL_*` file variables of its run; nothing else.
///
/// ```swift
/// let environment = AgentEnvironment(kind: .codex, inherited: ProcessInfo.processInfo.environment)
/// environment.variables(configured: agent.env)  // PATH, HOME, ..., OPENAI_API_KEY, CODEX_HOME, agent.env
/// ```
struct AgentEnvironment: Sendable, Equatable {
    /// What every process needs to run at all.
    static let basics = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ", "TMPDIR", "TMP", "TEMP"]
    /// Prefixes of basic variables (the locale).
    static let basicPrefixes = ["LC_"]

    var kind: KeelConfig.AgentKind
    /// Keel's own environment, the one the allowlist picks from.
    var inherited: [String: String]

    /// The variables an agent kind reads (its model key, its endpoint, its config directory), and
    /// prefixes of the ones it reads by family.
    static func variables(of kind: KeelConfig.AgentKind) -> (names: [String], prefixes: [String]) {
        switch kind {
        case .claudeCode:
            (["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "CLAUDE_CONFIG_DIR"], ["CLAUDE_CODE_"])
        case .codex:
            (["OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY", "CODEX_HOME"], [])
        case .gemini:
            (
                ["GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION",
                 "GOOGLE_GENAI_USE_VERTEXAI", "GEMINI_MODEL"], []
            )
        case .aider:
            (["OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"], ["AIDER_"])
        case .sample, .command:
            ([], [])
        }
    }

    /// The agent's environment before its run's `KEEL_*` variables: the allowed inherited
    /// variables, then `configured` (`agent.env`), which wins.
    func variables(configured: [String: String]) -> [String: String] {
        let (names, prefixes) = Self.variables(of: kind)
        let allowedNames = Set(Self.basics + names)
        let allowedPrefixes = Self.basicPrefixes + prefixes
        var environment = inherited.filter { name, _ in
            allowedNames.contains(name) || allowedPrefixes.contains { name.hasPrefix($0) }
        }
        environment.merge(configured) { _, configured in configured }
        return environment
    }

    /// The values in `environment` to keep out of every text: those of secret-looking names (the
    /// model key is allowed into the agent's environment, and still never stored).
    static func secrets(in environment: [String: String]) -> [String] {
        environment.filter { SecretRedactor.looksSecret(variableName: $0.key) }.map(\.value)
    }
}

extension KeelConfig {
    /// The values of the environment variables this configuration names as secrets (the admin
    /// token, the alert channels' credentials), as set in `environment`.
    func secretValues(in environment: [String: String]) -> [String] {
        var names = [server.adminTokenEnv]
        if let telegram = alerts.telegram { names.append(telegram.botTokenEnv) }
        if let email = alerts.email { names.append(email.passwordEnv) }
        if let slack = alerts.slack { names.append(slack.webhookURLEnv) }
        if let secret = alerts.webhook?.secretEnv { names.append(secret) }
        return names.compactMap { environment[$0] }
    }
}

extension KeelConfig {
    /// The redactor for everything this configuration's Keel stores, stamps, alerts, logs and
    /// serves: the values of the variables it names as secrets and the secret-looking values each
    /// of its agents receives (its model key), as set in `environment`, and every credential shape.
    public func redactor(environment: [String: String]) -> SecretRedactor {
        let agents = [agent] + [planner, inspect.reviewer, marshal.agent].compactMap { $0 }
        let agentSecrets = agents.flatMap { agent in
            AgentEnvironment.secrets(in: AgentEnvironment(kind: agent.kind, inherited: environment).variables(configured: agent.env))
        }
        return SecretRedactor(secrets: secretValues(in: environment) + agentSecrets)
    }
}
