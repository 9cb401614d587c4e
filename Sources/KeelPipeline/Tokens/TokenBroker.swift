public import Foundation
public import KeelCore
public import Logging

/// The one holder of the shared OAuth credential: it lends access tokens to workers and agents
/// and is the only party that refreshes.
///
/// Borrowers get a ``BorrowedToken`` without the refresh token, because a borrower that refreshed
/// on its own would rotate the shared identity and break its siblings' tokens. So the broker
/// refreshes before lending: a token with less than ``Configuration/minimumLifetime`` left (5
/// minutes by default) is refreshed first, and a token with more is lent as it is, at no cost
/// (no round trip). It never lends an expired token or one under the minimum: when the refresh
/// fails, ``borrow()`` throws a ``TokenError`` classified like any other failure (transient,
/// wait, permanent) instead.
///
/// Refreshes are single-flight: however many borrowers arrive while a refresh is needed, one
/// refresh runs and they all get its token (or its error). Every refresh is written back to the
/// credentials file at once (a rotated refresh token included), atomically and mode 0600.
///
/// Tokens never appear in errors or logs. Pass ``secretsToRedact`` (or use
/// ``environment(for:)``, which carries them) to `ProcessSpec.redactions` so that they never
/// reach transcripts or stamps either.
///
/// ```swift
/// let broker = try TokenBroker(
///     credentialsFile: CredentialsFile(path: "/var/lib/keel/claude-credentials.json"),
///     refresher: HTTPTokenRefresher(configuration: .init(tokenURL: url, clientID: clientID))
/// )
/// var spec = invocation.spec(...)
/// try await broker.environment(for: .claudeCode).apply(to: &spec)
/// ```
public actor TokenBroker {
    /// How the broker lends tokens.
    public struct Configuration: Sendable {
        /// A token with less than this left is refreshed before it is lent.
        public var minimumLifetime: Duration
        /// The lifetime assumed for a refreshed token when the endpoint gives no `expires_in`.
        public var assumedLifetime: Duration
        /// The variable that carries the token into each kind of agent's environment.
        public var tokenVariables: [KeelConfig.AgentKind: String]
        /// The variable for agent kinds not in ``tokenVariables``.
        public var fallbackTokenVariable: String
        /// Variables removed from an agent's environment because the agent would prefer them to
        /// the lent token (Claude Code uses `ANTHROPIC_AUTH_TOKEN` and `ANTHROPIC_API_KEY` before
        /// `CLAUDE_CODE_OAUTH_TOKEN`).
        public var overridingVariables: [KeelConfig.AgentKind: [String]]
        /// How many replaced tokens ``secretsToRedact`` keeps listing after a refresh.
        public var rotatedTokensKept: Int

        /// Creates a configuration; the defaults suit Claude Code on a subscription credential.
        public init(
            minimumLifetime: Duration = .seconds(300),
            assumedLifetime: Duration = .seconds(3600),
            tokenVariables: [KeelConfig.AgentKind: String] = [.claudeCode: "CLAUDE_CODE_OAUTH_TOKEN"],
            fallbackTokenVariable: String = "KEEL_ACCESS_TOKEN",
            overridingVariables: [KeelConfig.AgentKind: [String]] = [.claudeCode: ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"]],
            rotatedTokensKept: Int = 16
        ) {
            self.minimumLifetime = minimumLifetime
            self.assumedLifetime = assumedLifetime
            self.tokenVariables = tokenVariables
            self.fallbackTokenVariable = fallbackTokenVariable
            self.overridingVariables = overridingVariables
            self.rotatedTokensKept = rotatedTokensKept
        }
    }

    /// The configuration in use.
    public nonisolated let configuration: Configuration
    /// The file the credential comes from and goes back to.
    public nonisolated let credentialsFile: CredentialsFile

    private let refresher: any TokenRefresher
    private let clock: any WallClock
    private let logger: Logger

    private var credential: Credential
    /// Tokens replaced by refreshes, oldest first; still redacted in case a run that had one is
    /// still printing it.
    private var rotated: [String] = []
    private var refreshing = false
    /// Borrowers waiting for the refresh in flight.
    private var waiters: [CheckedContinuation<Result<Credential, any Error>, Never>] = []
    /// After a `wait` answer: no refresh is attempted before this instant, and borrowers get the error.
    private var waitingUntil: (instant: Date, error: TokenError)?
    /// Set when the last refresh could not be written to the credentials file.
    private var unsaved = false

    /// Loads the credential from `credentialsFile`.
    ///
    /// - Throws: ``TokenError`` with code ``TokenError/Code/credentialsFile`` when the file is
    ///   missing, unreadable or lacks a refresh token.
    public init(
        credentialsFile: CredentialsFile,
        refresher: any TokenRefresher,
        clock: any WallClock = SystemWallClock(),
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "keel.tokens")
    ) throws(TokenError) {
        self.credentialsFile = credentialsFile
        self.refresher = refresher
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        self.credential = try credentialsFile.load()
        if let mode = (try? FileManager.default.attributesOfItem(atPath: credentialsFile.path))?[.posixPermissions] as? Int,
            mode & 0o077 != 0
        {
            logger.warning(
                "the credentials file is readable by other users; it will be rewritten with mode 0600 at the next refresh",
                metadata: ["path": "\(credentialsFile.path)", "mode": "\(String(mode, radix: 8))"])
        }
    }

    // MARK: - Lending

    /// Lends the access token, refreshing it first when it has less than
    /// ``Configuration/minimumLifetime`` left.
    ///
    /// - Throws: ``TokenError`` when a refresh was needed and failed: no token is lent then,
    ///   whatever is left of the current one.
    public func borrow() async throws -> BorrowedToken {
        if unsaved { save() }
        while true {
            let now = clock.now()
            if isLendable(credential, at: now, requiringMinimum: true) { return lend(credential) }
            if let waiting = waitingUntil {
                if now < waiting.instant {
                    var error = waiting.error
                    error.retryAfter = .seconds(max(1, Int(waiting.instant.timeIntervalSince(now).rounded(.up))))
                    throw error
                }
                waitingUntil = nil
            }
            if refreshing {
                let outcome = await withCheckedContinuation { waiters.append($0) }
                switch outcome {
                case .success(let fresh) where isLendable(fresh, at: clock.now(), requiringMinimum: false):
                    return lend(fresh)
                case .success:
                    continue
                case .failure(let error) where error is CancellationError && !Task.isCancelled:
                    continue  // the borrower that was refreshing was cancelled: refresh on our own behalf
                case .failure(let error):
                    throw error
                }
            }

            refreshing = true
            let outcome: Result<Credential, any Error>
            do {
                outcome = .success(try await refresh())
            } catch {
                outcome = .failure(error)
            }
            refreshing = false
            let waiting = waiters
            waiters = []
            for waiter in waiting { waiter.resume(returning: outcome) }
            return lend(try outcome.get())
        }
    }

    /// The tokens to keep out of transcripts, logs and stamps: the current access and refresh
    /// tokens and the recently replaced ones. Pass them to `ProcessSpec.redactions`.
    public var secretsToRedact: [String] {
        var seen = Set<String>()
        return ([credential.accessToken, credential.refreshToken] + rotated.reversed()).filter { seen.insert($0).inserted }
    }

    /// When the current access token expires (no token is revealed).
    public var expiresAt: Date { credential.expiresAt }

    /// Borrows a token and says how it reaches an agent of kind `agent`: the variable to set
    /// (``Configuration/tokenVariables``), the variables to remove, and what to redact.
    public func environment(for agent: KeelConfig.AgentKind) async throws -> AgentTokenEnvironment {
        let token = try await borrow()
        return configuration.environment(lending: token, to: agent, redactions: secretsToRedact)
    }

    /// Reads the credentials file again, for when a person has replaced the credential (after a
    /// permanent refresh failure, for instance).
    public func reload() throws(TokenError) {
        let loaded = try credentialsFile.load()
        if loaded != credential {
            retire(credential, replacedBy: loaded)
            credential = loaded
            waitingUntil = nil
            unsaved = false
            logger.info("reloaded the credential", metadata: ["expires_at": "\(loaded.expiresAt.tokenTimestamp)"])
        }
    }

    /// How many borrowers are waiting for the refresh in flight (for tests).
    var waitingBorrowers: Int { waiters.count }

    // MARK: - Refreshing

    private func isLendable(_ candidate: Credential, at now: Date, requiringMinimum: Bool) -> Bool {
        let left = candidate.expiresAt.timeIntervalSince(now)
        guard left > 0 else { return false }
        return !requiringMinimum || left >= seconds(configuration.minimumLifetime)
    }

    private func lend(_ credential: Credential) -> BorrowedToken {
        BorrowedToken(accessToken: credential.accessToken, expiresAt: credential.expiresAt)
    }

    /// Refreshes the credential, stores it and writes it back; the caller is the only refresher.
    private func refresh() async throws -> Credential {
        let before = credential
        let refreshed: RefreshedToken
        do {
            refreshed = try await refresher.refresh(using: before.refreshToken)
        } catch let error as CancellationError {
            throw error
        } catch let error as TokenError {
            throw failure(error, current: before)
        } catch {
            let scrubbed = SecretRedactor(secrets: secretsToRedact).scrub(error)
            throw failure(
                TokenError(
                    code: .refreshFailed, message: "the token refresher failed (\(scrubbed))", errorClass: .transient, cause: scrubbed),
                current: before)
        }
        let now = clock.now()
        let lifetime = refreshed.lifetime ?? configuration.assumedLifetime
        guard lifetime > .zero else {
            throw failure(
                TokenError(
                    code: .protocolViolation,
                    message: "the token endpoint issued an access token that is already expired (expires_in \(lifetime))",
                    errorClass: .transient),
                current: before)
        }
        let fresh = Credential(
            accessToken: refreshed.accessToken,
            refreshToken: refreshed.refreshToken ?? before.refreshToken,
            expiresAt: now.addingTimeInterval(seconds(lifetime))
        )
        retire(before, replacedBy: fresh)
        credential = fresh
        waitingUntil = nil
        save()
        logger.info(
            "refreshed the access token",
            metadata: [
                "expires_at": "\(fresh.expiresAt.tokenTimestamp)",
                "refresh_token_rotated": "\(fresh.refreshToken != before.refreshToken)",
            ])
        return fresh
    }

    /// The error a borrower gets for a failed refresh: the refresher's classification, a message
    /// that says no token was lent, and no token anywhere in it.
    private func failure(_ error: TokenError, current: Credential) -> TokenError {
        let now = clock.now()
        let left = current.expiresAt.timeIntervalSince(now)
        let state =
            left <= 0
            ? "expired \(Self.span(-left)) ago"
            : "has only \(Self.span(left)) left, under the \(Self.span(seconds(configuration.minimumLifetime))) minimum"
        let scrubber = SecretRedactor(secrets: secretsToRedact)
        let cause = scrubber.scrub(error)
        var wrapped = cause
        wrapped.message = "could not refresh the access token, which \(state), so none was lent: \(cause.message)"
        wrapped.cause = cause
        if wrapped.errorClass == .wait, let retryAfter = wrapped.retryAfter {
            waitingUntil = (now.addingTimeInterval(seconds(retryAfter)), wrapped)
        }
        logger.error(
            "token refresh failed",
            metadata: ["class": "\(wrapped.errorClass.rawValue)", "code": "\(wrapped.code)", "error": "\(wrapped.message)"])
        return wrapped
    }

    private func retire(_ old: Credential, replacedBy new: Credential) {
        if old.accessToken != new.accessToken { rotated.append(old.accessToken) }
        if old.refreshToken != new.refreshToken { rotated.append(old.refreshToken) }
        if rotated.count > configuration.rotatedTokensKept { rotated.removeFirst(rotated.count - configuration.rotatedTokensKept) }
    }

    /// Writes the credential back. A failure does not stop lending (the new token is good), but
    /// a rotated refresh token that never reaches the file is lost at the next restart, so it is
    /// logged as an error and retried at the next borrow.
    private func save() {
        do {
            try credentialsFile.save(credential)
            unsaved = false
        } catch {
            unsaved = true
            logger.error(
                "could not write the refreshed credential back; retrying at the next borrow",
                metadata: ["path": "\(credentialsFile.path)", "error": "\(error.message)"])
        }
    }

    private static func span(_ seconds: TimeInterval) -> String {
        let whole = Int(seconds.rounded())
        if whole < 120 { return "\(whole) s" }
        if whole < 7200 { return "\(whole / 60) min" }
        return "\(whole / 3600) h"
    }
}

extension TokenBroker: CustomReflectable {
    /// The credentials file only: `dump(broker)` must not print the tokens the broker holds.
    public nonisolated var customMirror: Mirror {
        Mirror(self, children: ["credentialsFile": credentialsFile.path], displayStyle: .class)
    }
}

/// `duration` in seconds.
private func seconds(_ duration: Duration) -> TimeInterval {
    let (whole, attoseconds) = duration.components
    return TimeInterval(whole) + TimeInterval(attoseconds) / 1e18
}
