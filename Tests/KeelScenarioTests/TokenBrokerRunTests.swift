import Foundation
import KeelAgents
import KeelCore
import KeelStore
import KeelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `agent.token_broker` in keel.yml, through a real `keel run`: the credentials file's access
/// token expired a minute ago, so the broker refreshes it against the (loopback) token endpoint
/// before the agent runs, and the agent gets the fresh token in its environment, never in a log.
@Suite struct TokenBrokerRunTests {
    static let stale = "sk-ant-oat01-expiredOnArrival_DDDDDDDDDDDDDDDDDDDD"
    static let refresh = "sk-ant-ort01-theRefreshToken_EEEEEEEEEEEEEEEEEEEE"
    static let fresh = "sk-ant-oat01-refreshedByKeel_FFFFFFFFFFFFFFFFFFFFF"

    @Test func keelRunLendsARefreshedTokenToTheAgentAndNeverPrintsIt() async throws {
        let project = try await UserProject.make(prefix: "keel-tokens")
        defer { project.tmp.remove() }
        try await LoopbackHTTPServer.withServer { endpoint in
            endpoint.respond { request in
                guard request.text.contains("refresh_token=\(Self.refresh)") else { return .json(#"{"error":"invalid_grant"}"#, status: 400) }
                return .json(#"{"access_token":"\#(Self.fresh)","refresh_token":"\#(Self.refresh)","expires_in":28800}"#)
            }
            let credentials = project.repo + "/.credentials.json"
            let expired = Int64((Date().timeIntervalSince1970 - 60) * 1000)
            try Data(
                #"{"claudeAiOauth":{"accessToken":"\#(Self.stale)","refreshToken":"\#(Self.refresh)","expiresAt":\#(expired)}}"#.utf8
            ).write(to: URL(fileURLWithPath: credentials))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: credentials)
            // The agent refuses to work with anything but the fresh token, and prints what it got.
            let agent = """
                #!/bin/sh
                cat > /dev/null
                echo "agent token: $KEEL_ACCESS_TOKEN"
                cat '\(credentials)' 2>/dev/null || true
                [ "$KEEL_ACCESS_TOKEN" = '\(Self.fresh)' ] || { echo 'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired."}}' >&2; exit 1; }
                printf 'hello from item %s\\n' "$KEEL_ITEM_ID" > "greeting-$KEEL_ITEM_ID.txt"

                """
            try Data(agent.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel-agent.sh"))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: project.repo + "/keel-agent.sh")
            let config = """
                forge: {local: {origin: \(project.origin)}}
                ci: {commands: [{name: tests, run: sh tests/run.sh}]}
                agent:
                  kind: command
                  command: [./keel-agent.sh]
                  token_broker:
                    credentials: .credentials.json
                    token_url: \(endpoint.url)/v1/oauth/token
                    client_id: keel
                scheduler: {workers: 1, poll_milliseconds: 50}

                """
            try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
            let submit = try await keel(["submit", "--title", "Say hello", "--body-file", try project.writeIssue("Add a greeting.\n")], in: project.repo)
            #expect(submit.outcome.termination == .exited(0), "\(submit.stderr)")

            let server = try KeelServerProcess(config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"))
            let store = try SQLiteStore(path: project.repo + "/.keel/keel.sqlite")
            let merged = try await eventually(seconds: 180) { try await store.item(1)?.state == .merged }
            server.signal(SIGTERM)
            let status = await server.waitForExit()
            #expect(merged, "item not merged; keel run said:\n\(server.log)")
            #expect(status == 0, "\(server.log)")
            #expect(server.log.contains("token broker lending on http://127.0.0.1:"), "\(server.log)")
            #expect(try await store.item(1)?.attempt == 1, "the first attempt already had a fresh token")

            #expect(endpoint.requests.count == 1, "one refresh")
            let stored = try String(contentsOfFile: credentials, encoding: .utf8)
            #expect(stored.contains(Self.fresh), "the refreshed token was written back")
            let mode = try FileManager.default.attributesOfItem(atPath: credentials)[.posixPermissions] as? Int
            #expect(mode == 0o600)

            var transcripts = ""
            for case let name as String in FileManager.default.enumerator(atPath: project.repo + "/.keel/transcripts")! {
                transcripts += (try? String(contentsOfFile: project.repo + "/.keel/transcripts/" + name, encoding: .utf8)) ?? ""
            }
            #expect(transcripts.contains("agent token: [REDACTED]"), "\(transcripts)")
            for secret in [Self.fresh, Self.refresh, Self.stale] {
                #expect(!transcripts.contains(secret))
                #expect(!server.log.contains(secret))
            }
            let json = try await keel(["status", "1", "--json"], in: project.repo)
            #expect(!json.stdout.contains(Self.fresh))
        }
    }

    @Test func aCredentialsFileWithoutARefreshTokenStopsKeelRunWithTheReason() async throws {
        let project = try await UserProject.make(prefix: "keel-tokens-bad")
        defer { project.tmp.remove() }
        // An agent that exists: `keel run`'s startup check passes and the broker's own refusal is what stops it.
        try project.writeAgent()
        try Data(#"{"claudeAiOauth":{"accessToken":"\#(Self.stale)","expiresAt":0}}"#.utf8)
            .write(to: URL(fileURLWithPath: project.repo + "/.credentials.json"))
        let config = """
            forge: {local: {origin: \(project.origin)}}
            agent:
              kind: command
              command: [./keel-agent.sh]
              token_broker: {credentials: .credentials.json, token_url: "http://127.0.0.1:1/token", client_id: keel}

            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: project.repo + "/keel.yml"))
        let server = try KeelServerProcess(config: project.repo + "/keel.yml", in: project.repo, log: project.tmp.path("run.log"))
        let status = await server.waitForExit()
        #expect(status == 1, "\(server.log)")
        #expect(server.log.contains("agent.token_broker") && server.log.contains("refreshToken"), "\(server.log)")
        #expect(!server.log.contains(Self.stale))
    }
}
