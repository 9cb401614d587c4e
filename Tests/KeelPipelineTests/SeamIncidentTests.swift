import AsyncHTTPClient
import Foundation
import KeelAgents
import KeelCore
import KeelForge
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Synchronization
import Testing

/// A forge whose merge refuses with the given messages, in order, before it merges for real: a
/// GitHub that re-evaluates branch protection right before the merge (001_*, incident 4), or one
/// whose rules want a review nobody gave.
final class RefusingMergeForge: Forge {
    let inner: LocalForge
    // Mutex-guarded: the scheduler's workers call in concurrently.
    let state: Mutex<(refusals: [String], merges: Int)>

    init(inner: LocalForge, refusals: [String]) {
        self.inner = inner
        self.state = Mutex((refusals, 0))
    }

    /// How many times the pipeline asked to merge.
    var mergeCalls: Int { state.withLock { $0.merges } }

    var baseBranch: String { inner.baseBranch }
    var originURL: String { inner.originURL }

    func openPullRequest(branch: String, title: String) async throws -> PullRequest {
        try await inner.openPullRequest(branch: branch, title: title)
    }
    func runChecks(branch: String, headSHA: String) async throws -> CheckRun { try await inner.runChecks(branch: branch, headSHA: headSHA) }
    func observeChecks(branch: String, headSHA: String) async throws -> [ObservedCheck] {
        try await inner.observeChecks(branch: branch, headSHA: headSHA)
    }
    func baseContains(headSHA: String) async throws -> String? { try await inner.baseContains(headSHA: headSHA) }
    func requiredChecks() async throws -> [String] { try await inner.requiredChecks() }

    func merge(branch: String, headSHA: String, title: String) async throws -> MergeResult {
        let refusal: String? = state.withLock {
            $0.merges += 1
            return $0.refusals.isEmpty ? nil : $0.refusals.removeFirst()
        }
        if let refusal { return .refused(message: refusal) }
        return try await inner.merge(branch: branch, headSHA: headSHA, title: title)
    }
}

/// Replays the field report's incidents 1, 2, 4 and 5 (001_*) at the seams where they happened,
/// each with its guard or rule on and switched off. Incident 3 is in ``IncidentReplayTests``.
@Suite struct SeamIncidentTests {
    /// Where one replayed item came to rest, and what it went through on the way.
    struct Run {
        var final: WorkItem
        var history: [HistoryEntry]
        var transitions: [StateTransition]
        var events: [String]
        /// The item each time the driver found it waiting for a backoff (the clock then moved to its end).
        var deferrals: [WorkItem]

        var log: String { events.joined(separator: "\n") }
    }

    /// The parts every replay shares: an origin, a keel.yml, a store and a manual clock.
    struct Bench {
        let tmp: TemporaryDirectory
        let repos: RepoBuilder
        let origin: String
        let config: KeelConfig
        let store: SQLiteStore
        let clock = ManualWallClock()

        /// Writes `script` as the agent and a keel.yml that runs it, with the field report's
        /// 30–90 s backoff (the manual clock makes it free).
        init(_ name: String, files: [String: String], agentScript script: String) async throws {
            tmp = try TemporaryDirectory(prefix: "keel-\(name)")
            repos = RepoBuilder(root: tmp.path)
            origin = try await repos.makeOrigin(files: files)
            let agent = tmp.path("agent.sh")
            try Data(script.utf8).write(to: URL(fileURLWithPath: agent))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: agent)
            config = try KeelConfig.parse(
                """
                forge: {local: {origin: \(origin)}}
                agent: {kind: command, command: [\(agent)]}
                scheduler:
                  workers: 1
                  lease_seconds: 600
                  poll_milliseconds: 20
                  breaker_threshold: 3
                  backoff: {initial_seconds: 30, max_seconds: 90, jitter: 0.5}
                """, file: "keel.yml", baseDirectory: tmp.path)
            store = try SQLiteStore(path: config.store.sqlite)
        }

        func localForge() -> LocalForge {
            LocalForge(originURL: origin, baseBranch: "main", ciCommands: [], ciTimeout: .seconds(60), workRoot: tmp.path("forge"))
        }

        /// Runs one item through the real pipeline until it merges or waits for a person. The
        /// clock moves only when the item waits for a backoff, and then just past its end, so a
        /// retry can never come early.
        func run(title: String, configure: (inout PipelineEnvironment) throws -> Void) async throws -> Run {
            let lines = Mutex<[String]>([])
            var environment = PipelineEnvironment(
                config: config, configDirectory: tmp.path, store: store, forge: localForge(), clock: clock, random: { 0 },
                events: PipelineEventSink { event in lines.withLock { $0.append(event.line) } })
            try configure(&environment)
            let item = try await store.createItem(NewItem(repo: "search", title: title, body: "b"), actor: "test", now: clock.now())
            let scheduler = Scheduler(environment: environment)
            let running = Task { try await scheduler.run() }
            var deferrals: [WorkItem] = []
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(40))
                guard let current = try await store.item(item.id) else { break }
                if current.state == .merged || current.state == .needsHuman { break }
                if let notBefore = current.notBefore, notBefore > clock.now() {
                    deferrals.append(current)
                    clock.advance(by: notBefore.timeIntervalSince(clock.now()) + 1)
                }
            }
            running.cancel()
            _ = try? await running.value
            return Run(
                final: try #require(try await store.item(item.id)), history: try await store.history(of: item.id).filter { $0.kind != "attempt" },
                transitions: try await store.transitions(of: item.id), events: lines.withLock { $0 }, deferrals: deferrals)
        }
    }

    // MARK: - Incident 1: a half-resolved merge pushed with conflict markers

    static let searchBase = "def search(query):\n    return []\n"
    static let searchFeature = "def search(query):\n    return hybrid(query)\n"

    struct MarkerReplay {
        var run: Run
        /// The agent's merge commit with markers still in `search.py`.
        var markerCommit: String
        var developTip: String
        var originHasMarkerCommit: Bool
        var mainHasMarkerCommit: Bool
        var mainHasDevelop: Bool
        var searchOnMain: String
    }

    /// Attempt 1 of the agent does what the field report's did: it changes `search.py` and
    /// `settings.ini`, merges the origin's `develop` "to backport some test fixes", resolves
    /// `settings.ini`, leaves markers in `search.py` and commits anyway. Attempt 2 does the change
    /// cleanly. `guarded` switches the pre-push guard of the worker clones on or off.
    func replayIncident1(guarded: Bool) async throws -> MarkerReplay {
        let scratch = try TemporaryDirectory(prefix: "keel-incident1-agent")
        defer { scratch.remove() }
        let markerFile = scratch.path("marker-commit")
        let agentGit = "git -c user.name=agent -c user.email=agent@localhost"
        let bench = try await Bench(
            "incident1", files: ["README.md": "# search\n", "search.py": Self.searchBase, "settings.ini": "mode = plain\n"],
            agentScript: """
                #!/bin/sh
                cat > /dev/null
                printf 'def search(query):\\n    return hybrid(query)\\n' > search.py
                echo 'mode = hybrid' > settings.ini
                if [ "$KEEL_ATTEMPT" = 1 ]; then
                    \(agentGit) commit --quiet -am 'Fix HYBRID_SEARCH'
                    # "Backport the test fixes from develop": it conflicts, half of it gets resolved.
                    \(agentGit) merge --no-edit origin/develop > /dev/null 2>&1 && exit 3
                    \(agentGit) checkout --ours settings.ini
                    git add -A
                    \(agentGit) commit --quiet -m 'chore: Fix HYBRID_SEARCH (merge develop for the test fixes)'
                    git rev-parse HEAD > '\(markerFile)'
                fi
                """)
        defer { bench.tmp.remove() }
        // develop drifts from main: the fixes the agent wanted, and more.
        try await bench.repos.pushCommit(files: ["tests/fixtures.py": "FIXTURES = [1, 2, 3]\n"], branch: "develop", to: bench.origin)
        try await bench.repos.pushCommit(
            files: ["search.py": "def search(query):\n    return legacy_search(query)\n", "settings.ini": "mode = legacy\n"],
            branch: "develop", to: bench.origin)
        let developTip = try await bench.repos.pushCommit(
            files: ["legacy.py": "def legacy_search(q):\n    return [q]\n"], branch: "develop", to: bench.origin)

        let keel = try KeelBinary.path
        let run = try await bench.run(title: "Fix HYBRID_SEARCH") { $0.keelExecutable = guarded ? keel : nil }

        let marker = try String(contentsOfFile: markerFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let git = bench.repos.git
        let inOrigin = try await git.revParse(marker, in: bench.origin) != nil
        let inMain = inOrigin ? try await git.isAncestor(marker, of: "main", in: bench.origin) : false
        return MarkerReplay(
            run: run, markerCommit: marker, developTip: developTip, originHasMarkerCommit: inOrigin, mainHasMarkerCommit: inMain,
            mainHasDevelop: try await git.isAncestor(developTip, of: "main", in: bench.origin),
            searchOnMain: try await git.run(["show", "main:search.py"], in: bench.origin))
    }

    @Test func pushWithConflictMarkersIsRefusedAndTheAgentRedoesTheWork() async throws {
        let replay = try await replayIncident1(guarded: true)
        let run = replay.run
        #expect(run.final.state == .merged, "\(run.log)")
        #expect(run.final.attempt == 2)
        #expect(run.history.map(\.signature) == ["guard_refused"], "the guard sent it back to develop")
        let refusal = try #require(run.history.first)
        #expect(refusal.stage == "push")
        #expect(refusal.detail.contains("keel guard: refused push of refs/heads/keel/item-\(run.final.id)"), "\(refusal.detail)")
        #expect(refusal.detail.contains("conflict markers added in search.py"), "with the guard's words: \(refusal.detail)")
        #expect(refusal.detail.contains("it brings 3 commits from develop"), "both layers fired: \(refusal.detail)")
        #expect(!replay.originHasMarkerCommit, "the marker commit never reached the origin")
        #expect(replay.searchOnMain == Self.searchFeature, "main got the clean change")
        #expect(!replay.mainHasDevelop, "and none of develop's commits")
    }

    @Test func withoutTheGuardTheMarkersReachMain() async throws {
        // The guard switched off: no pre-push hook in the worker clones.
        let replay = try await replayIncident1(guarded: false)
        let run = replay.run
        #expect(run.final.state == .merged, "\(run.log)")
        #expect(run.final.attempt == 1)
        #expect(run.history.isEmpty)
        #expect(replay.originHasMarkerCommit, "the half-resolved merge was pushed")
        #expect(replay.mainHasMarkerCommit)
        #expect(replay.searchOnMain.contains("<<<<<<< "), "main holds conflict markers:\n\(replay.searchOnMain)")
        #expect(replay.searchOnMain.contains(">>>>>>> "))
        #expect(replay.mainHasDevelop, "and develop's drift came along")
    }

    // MARK: - Incident 2: a network blip misclassified as permanent

    /// Attempt 1 of the agent dies mid-session on a closed socket, attempt 2 succeeds.
    func replayIncident2(classifier: ErrorClassifier) async throws -> Run {
        let bench = try await Bench(
            "incident2", files: ["README.md": "# search\n"],
            agentScript: """
                #!/bin/sh
                cat > /dev/null
                if [ "$KEEL_ATTEMPT" = 1 ]; then
                    echo 'Reading search.py'
                    echo 'API Error: The socket connection was closed unexpectedly.' >&2
                    exit 1
                fi
                echo 'hybrid' > search.txt
                """)
        defer { bench.tmp.remove() }
        return try await bench.run(title: "Fix HYBRID_SEARCH") { $0.classifier = classifier }
    }

    @Test func closedSocketIsRetriedAfterABackoffAndMerges() async throws {
        let run = try await replayIncident2(classifier: ErrorClassifier())
        #expect(run.final.state == .merged, "\(run.log)")
        #expect(run.final.attempt == 2)
        #expect(run.history.map(\.signature) == ["agent_exit:1:socket-closed"])
        #expect(run.history.first?.detail.contains("The socket connection was closed unexpectedly") == true)
        // It waited out the backoff (30 s, the field report's lower bound) before attempt 2.
        let failed = try #require(run.transitions.first { $0.from == .developing && $0.to == .queued })
        let retried = try #require(run.transitions.last { $0.from == .queued })
        #expect(retried.at.timeIntervalSince(failed.at) >= 30)
        #expect(run.deferrals.count == 1)
        #expect(run.deferrals.first?.state == .queued)
    }

    @Test func withoutTheClosedSocketRuleUnderTheGatewaysPolicyTheItemGoesToAPerson() async throws {
        // Keel's rule removed, under the field report's policy: only a listed pattern was retried,
        // anything else was permanent. That is the incident: a person re-dispatches by hand.
        let old = ErrorClassifier(disabling: ["socket-closed"], unmatched: .permanent)
        let run = try await replayIncident2(classifier: old)
        #expect(run.final.state == .needsHuman, "\(run.log)")
        #expect(run.final.attempt == 1, "no retry")
        #expect(run.history.map(\.signature) == ["agent_exit:1:default-permanent"])
        #expect(run.transitions.last?.reason.contains("permanent failure in develop") == true)
    }

    @Test func withoutTheClosedSocketRuleKeelsTransientDefaultStillRetries() async throws {
        // The second layer: with the rule removed but Keel's own policy (unmatched is transient),
        // the closed socket is retried and the item merges; the failure names the default.
        let run = try await replayIncident2(classifier: ErrorClassifier(disabling: ["socket-closed"], unmatched: .transient))
        #expect(run.final.state == .merged, "\(run.log)")
        #expect(run.final.attempt == 2)
        #expect(run.history.map(\.signature) == ["agent_exit:1:default-transient"])
    }

    // MARK: - Incident 4: the singular "is expected" at merge time

    static let singularPending = "Repository rules blocked merge: 405\nRequired status check \"check-branch-name\" is expected."
    static let reviewRequired = "At least 1 approving review is required by reviewers with write access."

    /// The item passes CI, then the forge refuses the merge with `refusals`, in order.
    func replayIncident4(refusals: [String], classifier: ErrorClassifier = ErrorClassifier()) async throws -> (Run, mergeCalls: Int) {
        let bench = try await Bench(
            "incident4", files: ["README.md": "# search\n"],
            agentScript: "#!/bin/sh\ncat > /dev/null\necho \"attempt $KEEL_ATTEMPT\" > search.txt\n")
        defer { bench.tmp.remove() }
        let forge = RefusingMergeForge(inner: bench.localForge(), refusals: refusals)
        let run = try await bench.run(title: "Fix HYBRID_SEARCH") {
            $0.forge = forge
            $0.classifier = classifier
        }
        return (run, forge.mergeCalls)
    }

    @Test func singularExpectedCheckAtMergeIsRetriedAndMerges() async throws {
        let (run, mergeCalls) = try await replayIncident4(refusals: [Self.singularPending])
        #expect(run.final.state == .merged, "\(run.log)")
        #expect(mergeCalls == 2)
        #expect(run.history.map(\.signature) == ["merge_refused:merge-pending-check"])
        #expect(run.history.first?.summary == Self.singularPending)
        // It stayed in merging while it waited, and was never sent back or to a person.
        #expect(run.deferrals.map(\.state) == [.merging])
        #expect(run.transitions.filter { $0.to == .merging }.count == 1)
        #expect(!run.transitions.contains { $0.to == .needsHuman })
        #expect(run.final.attempt == 1, "never sent back to develop")
    }

    @Test func withoutThePendingCheckRuleUnderTheOldDetectorsPolicyTheSingularGoesToAPerson() async throws {
        // Keel's rule removed, under the field report's policy: a merge refusal that was not a
        // known pending state was a hard failure. That is the incident.
        let old = ErrorClassifier(disabling: ["merge-pending-check"], unmatched: .permanent)
        let (run, mergeCalls) = try await replayIncident4(refusals: [Self.singularPending], classifier: old)
        #expect(run.final.state == .needsHuman, "\(run.log)")
        #expect(mergeCalls == 1, "not retried")
        #expect(run.history.map(\.signature) == ["merge_refused:default-permanent"])
    }

    @Test func reviewRequiredAtMergeGoesToAPersonWithTheMessage() async throws {
        let (run, mergeCalls) = try await replayIncident4(refusals: [Self.reviewRequired])
        #expect(run.final.state == .needsHuman, "\(run.log)")
        #expect(mergeCalls == 1, "no wait makes a review appear")
        #expect(run.history.map(\.signature) == ["merge_refused:merge-review-required"])
        #expect(run.history.first?.summary == Self.reviewRequired)
        #expect(run.transitions.last?.reason.contains(Self.reviewRequired) == true)
        #expect(run.deferrals.isEmpty)
    }

    // MARK: - Incident 5: a borrowed token already expired on arrival

    static let staleAccess = "sk-ant-oat01-staleAccessToken_AAAAAAAAAAAAAAAAAAAA"
    static let canonicalRefresh = "sk-ant-ort01-canonicalRefresh_BBBBBBBBBBBBBBBBBBBB"
    static let expiredAnswer =
        #"{"type":"error","error":{"type":"authentication_error","#
        + #""message":"OAuth token has expired. Please obtain a new token or refresh your existing token."}}"#

    struct TokenReplay {
        var run: Run
        /// The bearer tokens the model API was called with.
        var presented: [String]
        /// The access tokens the token endpoint issued.
        var issued: [String]
        /// The refresh tokens the token endpoint was asked to exchange.
        var refreshedWith: [String]
        /// The credential in the broker's file afterwards.
        var stored: Credential
        /// Every transcript file of the run, concatenated.
        var transcripts: String
        var now: Date
    }

    /// The naive lender of the field report: the credentials file's access token as stored,
    /// expiry and all.
    struct StoredCredentialLender: AgentTokenSource {
        let file: CredentialsFile

        func environment(for agent: KeelConfig.AgentKind) async throws -> AgentTokenEnvironment {
            let stored = try file.load()
            return TokenBroker.Configuration().environment(
                lending: BorrowedToken(accessToken: stored.accessToken, expiresAt: stored.expiresAt), to: agent, redactions: [])
        }
    }

    /// A model API on loopback that accepts only tokens its token endpoint issued, a credentials
    /// file whose access token expired a minute ago, and an agent that calls the API with the
    /// token from its environment (and, carelessly, prints it) before it changes a file. The
    /// item runs through the scheduler; `refreshBeforeLend` switches the lender: the token broker
    /// over its local endpoint, as `keel run` wires it (which refreshes first), or the credentials
    /// file read as stored.
    func replayIncident5(refreshBeforeLend: Bool) async throws -> TokenReplay {
        let issued = Mutex<[String]>([])
        return try await LoopbackHTTPServer.withServer { tokenEndpoint in
            tokenEndpoint.respond { request in
                let refresh = Self.formFields(request.text)["refresh_token"] ?? ""
                guard refresh == Self.canonicalRefresh else {
                    return .json(#"{"error":"invalid_grant"}"#, status: 400)
                }
                let token = issued.withLock {
                    $0.append("sk-ant-oat01-freshAccessToken_\($0.count)_CCCCCCCCCCCCCCCC")
                    return $0[$0.count - 1]
                }
                return .json(#"{"access_token":"\#(token)","token_type":"Bearer","expires_in":28800}"#)
            }
            return try await LoopbackHTTPServer.withServer { modelAPI in
                modelAPI.respond { request in
                    let presented = request.header("Authorization").map { String($0.dropFirst("Bearer ".count)) } ?? ""
                    let valid = issued.withLock { $0.contains(presented) }
                    return valid ? .json(#"{"id":"msg_1","type":"message","content":[]}"#) : .json(Self.expiredAnswer, status: 401)
                }
                let variable = TokenBroker.Configuration().fallbackTokenVariable
                // The token goes to curl on its standard input, never on a command line.
                let bench = try await Bench(
                    "incident5", files: ["README.md": "# search\n"],
                    agentScript: """
                        #!/bin/sh
                        cat > /dev/null
                        echo "using token $\(variable)"
                        answer=$(printf 'header = "Authorization: Bearer %s"\\n' "$\(variable)" |
                            curl --silent --show-error --noproxy '*' --config - --output ../answer.json --write-out '%{http_code}' \\
                                --header 'Content-Type: application/json' --data '{"model":"m","max_tokens":16,"messages":[]}' \\
                                '\(modelAPI.url)/v1/messages')
                        if [ "$answer" != 200 ]; then
                            echo "API Error: $answer $(cat ../answer.json)" >&2
                            exit 1
                        fi
                        echo 'API answered; working'
                        echo 'search = "hybrid"' > search.py
                        """)
                defer { bench.tmp.remove() }
                let file = CredentialsFile(path: bench.tmp.path(".credentials.json"), layout: .claudeCode)
                let expired = Int64(bench.clock.now().addingTimeInterval(-60).timeIntervalSince1970 * 1000)
                let document: [String: Any] = [
                    "claudeAiOauth": ["accessToken": Self.staleAccess, "refreshToken": Self.canonicalRefresh, "expiresAt": expired]
                ]
                try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: file.path))
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)

                let run: Run
                if refreshBeforeLend {
                    // The fix, wired as `keel run` wires it from agent.token_broker: the one holder of
                    // the refresh token refreshes before it lends, and workers borrow over its endpoint.
                    let settings = KeelConfig.TokenBrokerSettings(
                        credentials: file.path, tokenURL: tokenEndpoint.url + "/v1/oauth/token", clientID: "keel")
                    let broker = try TokenBroker.configured(settings, httpClient: .shared, clock: bench.clock)
                    run = try await TokenBrokerServer.withServer(broker: broker, secret: BearerSecret.random()) { server in
                        try await bench.run(title: "Hybrid search") {
                            $0.tokens = BrokerEndpointTokenSource(client: server.client(), lending: broker.configuration)
                        }
                    }
                } else {
                    run = try await bench.run(title: "Hybrid search") { $0.tokens = StoredCredentialLender(file: file) }
                }
                var transcripts = ""
                if let files = FileManager.default.enumerator(atPath: bench.config.transcripts) {
                    for case let name as String in files {
                        transcripts += (try? String(contentsOfFile: bench.config.transcripts + "/" + name, encoding: .utf8)) ?? ""
                    }
                }
                return TokenReplay(
                    run: run,
                    presented: modelAPI.requests.map { String(($0.header("Authorization") ?? "").dropFirst("Bearer ".count)) },
                    issued: issued.withLock { $0 },
                    refreshedWith: tokenEndpoint.requests.map { Self.formFields($0.text)["refresh_token"] ?? "" },
                    stored: try file.load(), transcripts: transcripts, now: bench.clock.now())
            }
        }
    }

    @Test func expiredStoredTokenIsRefreshedBeforeTheAgentGetsIt() async throws {
        let replay = try await replayIncident5(refreshBeforeLend: true)
        #expect(replay.run.final.state == .merged, "\(replay.run.log)")
        #expect(replay.run.final.attempt == 1)
        #expect(replay.refreshedWith == [Self.canonicalRefresh], "one refresh, by the broker")
        #expect(replay.issued.count == 1)
        #expect(replay.presented == replay.issued, "the agent called the API with the fresh token")
        #expect(replay.stored.accessToken == replay.issued.first, "and the broker wrote it back")
        #expect(replay.stored.expiresAt > replay.now.addingTimeInterval(300))
        // The agent printed its token: the transcript holds the marker, not the token.
        #expect(replay.transcripts.contains("using token [REDACTED]"), "\(replay.transcripts)")
        for secret in replay.issued + [Self.canonicalRefresh, Self.staleAccess] {
            #expect(!replay.transcripts.contains(secret))
            #expect(!replay.run.log.contains(secret))
        }
    }

    @Test func withTheStoredTokenLentAsItIsTheAgentGets401() async throws {
        let replay = try await replayIncident5(refreshBeforeLend: false)
        let run = replay.run
        #expect(run.final.state == .needsHuman, "\(run.log)")
        #expect(run.final.attempt == 1, "a permanent failure: no retry")
        #expect(replay.presented == [Self.staleAccess])
        #expect(replay.refreshedWith.isEmpty, "nobody refreshed")
        let failure = try #require(run.history.last)
        #expect(failure.detail.contains("API Error: 401"), "\(failure.detail)")
        #expect(failure.detail.contains("OAuth token has expired"))
        #expect(failure.signature?.hasPrefix("agent_exit:1:") == true, "\(failure.signature ?? "")")
        #expect(run.transitions.last?.reason.contains("permanent") == true)

        // And the borrower cannot refresh on its own: its copy carries no refresh token.
        try await withTemporaryDirectory(prefix: "keel-incident5-worker") { tmp in
            let borrowed = CredentialsFile(path: tmp.path(".credentials.json"), layout: .claudeCode)
            let document: [String: Any] = ["claudeAiOauth": ["accessToken": Self.staleAccess, "expiresAt": 0]]
            try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: borrowed.path))
            let error = try #require(throws: TokenError.self) {
                _ = try TokenBroker(
                    credentialsFile: borrowed, refresher: HTTPTokenRefresher(configuration: .init(tokenURL: "http://127.0.0.1:1/", clientID: "keel")))
            }
            #expect(error.message.contains("has no \"refreshToken\""), "\(error.message)")
            #expect(error.errorClass == .permanent)
        }
    }

    /// A worker borrowing through `keel run`'s broker endpoint from a token endpoint that gives
    /// `answers` in turn (the last one from then on), for an agent that only writes a file.
    func borrowThrough(answers: [LoopbackHTTPServer.Response]) async throws -> (run: Run, agentRuns: Int, refreshes: Int) {
        try await LoopbackHTTPServer.withServer { tokenEndpoint in
            let served = Mutex(0)
            tokenEndpoint.respond { _ in served.withLock { $0 += 1; return answers[min($0, answers.count) - 1] } }
            let scratch = try TemporaryDirectory(prefix: "keel-borrow-agent")
            defer { scratch.remove() }
            let runsFile = scratch.path("agent-runs")
            let bench = try await Bench(
                "borrow", files: ["README.md": "# search\n"],
                agentScript: "#!/bin/sh\ncat > /dev/null\necho ran >> '\(runsFile)'\necho 'search = 1' > search.py\n")
            defer { bench.tmp.remove() }
            let file = CredentialsFile(path: bench.tmp.path(".credentials.json"), layout: .claudeCode)
            try Data(#"{"claudeAiOauth":{"accessToken":"\#(Self.staleAccess)","refreshToken":"\#(Self.canonicalRefresh)","expiresAt":0}}"#.utf8)
                .write(to: URL(fileURLWithPath: file.path))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
            let settings = KeelConfig.TokenBrokerSettings(credentials: file.path, tokenURL: tokenEndpoint.url + "/token", clientID: "keel")
            let broker = try TokenBroker.configured(settings, httpClient: .shared, clock: bench.clock)
            let run = try await TokenBrokerServer.withServer(broker: broker, secret: BearerSecret.random()) { server in
                try await bench.run(title: "Hybrid search") {
                    $0.tokens = BrokerEndpointTokenSource(client: server.client(), lending: broker.configuration)
                }
            }
            let runs = (try? String(contentsOfFile: runsFile, encoding: .utf8)) ?? ""
            return (run, runs.split(separator: "\n").count, tokenEndpoint.requests.count)
        }
    }

    @Test func aRefusedRefreshTokenGoesToAPersonBeforeAnyAgentRuns() async throws {
        let (run, agentRuns, refreshes) = try await borrowThrough(answers: [
            .json(#"{"error":"invalid_grant","error_description":"Refresh token revoked"}"#, status: 400)
        ])
        #expect(run.final.state == .needsHuman, "\(run.log)")
        #expect(agentRuns == 0, "no agent ran without a token")
        #expect(refreshes == 1)
        let failure = try #require(run.history.last)
        #expect(failure.signature == "token:rejected", "\(failure)")
        #expect(failure.summary.contains("no access token for the agent") && failure.summary.contains("invalid_grant"), "\(failure.summary)")
        #expect(run.transitions.last?.reason.contains("permanent") == true)
        #expect(!run.log.contains(Self.canonicalRefresh) && !run.log.contains(Self.staleAccess))
    }

    @Test func aTokenEndpointOutageIsRetriedAfterABackoffAndTheItemMerges() async throws {
        let (run, agentRuns, refreshes) = try await borrowThrough(answers: [
            .text("upstream connect error", status: 503),
            .json(#"{"access_token":"sk-ant-oat01-afterTheOutage_GGGGGGGGGGGG","expires_in":3600}"#),
        ])
        #expect(run.final.state == .merged, "\(run.log)")
        #expect(run.history.map(\.signature) == ["token:rejected"])
        #expect(run.deferrals.count == 1, "waited one backoff for the endpoint")
        #expect(agentRuns == 1)
        #expect(refreshes == 2)
    }

    /// The fields of a form-encoded body.
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }
}
