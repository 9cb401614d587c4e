public import AsyncHTTPClient
import Foundation
public import KeelCore
public import Logging

/// Where a worker gets the access token for an agent run: the ``TokenBroker`` itself, or its
/// local endpoint through a ``TokenBrokerClient`` (what `keel run` uses).
public protocol AgentTokenSource: Sendable {
    /// Borrows a current token and says how it reaches an agent of kind `agent`.
    ///
    /// - Throws: ``TokenError`` classified like any other failure when no token can be lent.
    func environment(for agent: KeelConfig.AgentKind) async throws -> AgentTokenEnvironment
}

extension TokenBroker: AgentTokenSource {}

extension TokenBroker.Configuration {
    /// How `token` reaches an agent of kind `agent`: its variable, the variables it would prefer,
    /// and `redactions`.
    public func environment(lending token: BorrowedToken, to agent: KeelConfig.AgentKind, redactions: [String]) -> AgentTokenEnvironment {
        let name = tokenVariables[agent] ?? fallbackTokenVariable
        return AgentTokenEnvironment(
            variables: [name: token.accessToken],
            unset: (overridingVariables[agent] ?? []).filter { $0 != name },
            redactions: redactions,
            expiresAt: token.expiresAt
        )
    }

    /// The configuration `agent.token_broker` in keel.yml describes.
    public init(settings: KeelConfig.TokenBrokerSettings) {
        self.init(minimumLifetime: .seconds(settings.minimumLifetimeSeconds))
        if let variable = settings.variable {
            for kind in KeelConfig.AgentKind.allCases { tokenVariables[kind] = variable }
            fallbackTokenVariable = variable
        }
    }
}

/// Borrows over the broker's local endpoint: the worker never holds the refresh token, and
/// redacts the token it was lent, plus every secret `redacting` names (in `keel run`, where the
/// broker is in the same process: its refresh token and the tokens it rotated out, which an
/// agent could still print by reading the credentials file).
public struct BrokerEndpointTokenSource: AgentTokenSource {
    /// The endpoint's client.
    public let client: TokenBrokerClient
    /// Which variables the token goes into.
    public let lending: TokenBroker.Configuration
    private let redacting: @Sendable () async -> [String]

    /// A source borrowing through `client`.
    public init(
        client: TokenBrokerClient, lending: TokenBroker.Configuration, redacting: @escaping @Sendable () async -> [String] = { [] }
    ) {
        self.client = client
        self.lending = lending
        self.redacting = redacting
    }

    public func environment(for agent: KeelConfig.AgentKind) async throws -> AgentTokenEnvironment {
        let token = try await client.borrow()
        return lending.environment(lending: token, to: agent, redactions: [token.accessToken] + (await redacting()))
    }
}

extension TokenBroker {
    /// The broker `agent.token_broker` in keel.yml describes, refreshing over `httpClient`.
    ///
    /// - Throws: ``TokenError`` when the credentials file is missing, malformed or holds no
    ///   refresh token.
    public static func configured(
        _ settings: KeelConfig.TokenBrokerSettings, httpClient: HTTPClient, clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "keel.tokens")
    ) throws(TokenError) -> TokenBroker {
        try TokenBroker(
            credentialsFile: CredentialsFile(path: settings.credentials, layout: settings.layout),
            refresher: HTTPTokenRefresher(
                configuration: .init(tokenURL: settings.tokenURL, clientID: settings.clientID, scope: settings.scope, bodyEncoding: settings.body),
                httpClient: httpClient, clock: clock),
            clock: clock, configuration: Configuration(settings: settings), logger: logger)
    }
}
