import AsyncHTTPClient
import Foundation
import KeelCore
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// needs_human reaches a person through the alert channels, once per escalation.
@Suite struct EscalationTests {
    /// An item moved to needs_human with `reason` after one $0.25 agent run.
    func escalated(_ store: SQLiteStore, _ clock: ManualWallClock, title: String, reason: String) async throws -> WorkItem {
        let item = try await store.createItem(NewItem(tenant: "acme", repo: "api", title: title, body: ""), actor: "t", now: clock.now())
        let (_, lease) = try #require(try await store.claimNext(owner: "w", now: clock.now(), leaseSeconds: 60))
        let (_, developing) = try await store.transition(
            lease, on: .claimed, reason: "start", actor: "w", now: clock.now(), changes: ItemChanges(incrementAttempt: true), keepLease: true)
        let run = try await store.startAgentRun(
            itemID: item.id, attempt: 1, stage: "develop", agent: "codex", command: "codex", transcriptPath: nil, promptSHA256: "p", now: clock.now())
        try await store.finishAgentRun(run, exitCode: 1, outcome: "error", cost: CostEvent(costMicros: 250_000), now: clock.now())
        let (moved, _) = try await store.transition(
            developing, on: .escalated, reason: reason, actor: "w", now: clock.now(),
            changes: ItemChanges(history: [NewHistoryEntry(stage: "develop", kind: "failure", signature: "agent_error:auth", summary: reason)]),
            keepLease: false)
        return moved
    }

    @Test func anEscalationIsSentOnceWithTheReasonFiguresAndLink() async throws {
        try await withTemporaryDirectory(prefix: "keel-escalation") { tmp in
            let store = try SQLiteStore(path: tmp.path("keel.sqlite"))
            let clock = ManualWallClock()
            try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { hook in
                try await withHTTPClient { client in
                    let notifier = EscalationNotifier(
                        store: store, alerts: AlertDispatcher(channels: [WebhookChannel(url: hook.url + "/keel", httpClient: client)]),
                        publicURL: "https://keel.example.com", clock: clock)
                    let item = try await escalated(store, clock, title: "Fix login", reason: "permanent failure in develop: HTTP 401 invalid x-api-key")
                    #expect(try await notifier.notifyPending() == 1)
                    #expect(try await notifier.notifyPending() == 0, "once per escalation, also after a restart")
                    let fresh = EscalationNotifier(store: store, alerts: nil, publicURL: "https://keel.example.com", clock: clock)
                    #expect(try await fresh.notifyPending() == 0)

                    let request = try #require(hook.requests.first)
                    #expect(hook.requests.count == 1)
                    let text = request.text
                    #expect(text.contains("\"event\":\"needs_human\"") || text.contains("\"event\": \"needs_human\""), "\(text)")
                    for expected in [
                        "#\(item.id) needs a person: Fix login", "HTTP 401 invalid x-api-key", "keel retry \(item.id)",
                        "keel reimplement \(item.id)", "keel cancel \(item.id)", "https://keel.example.com/items/\(item.id)", "$0.2500",
                        "agent_error:auth",
                    ] {
                        #expect(text.contains(expected), "missing \(expected) in \(text)")
                    }
                }
            }
        }
    }

    @Test func anEscalationAPersonAnsweredBeforeItWasSentIsNotAnnouncedLate() async throws {
        try await withTemporaryDirectory(prefix: "keel-escalation-late") { tmp in
            let store = try SQLiteStore(path: tmp.path("keel.sqlite"))
            let clock = ManualWallClock()
            let item = try await escalated(store, clock, title: "Flaky", reason: "circuit breaker open")
            _ = try await store.transition(itemID: item.id, on: .humanRetry, reason: "retry", actor: "p", now: clock.now(), changes: ItemChanges())
            #expect(try await store.pendingEscalations(limit: 10, now: clock.now()).isEmpty)
            let other = try await escalated(store, clock, title: "Quiet", reason: "budget")
            let notifier = EscalationNotifier(store: store, alerts: nil, publicURL: "http://127.0.0.1:8765", clock: clock)
            #expect(try await notifier.notifyPending() == 0, "no channel: recorded, not sent")
            #expect(try await store.pendingEscalations(limit: 10, now: clock.now()).isEmpty)
            _ = other
        }
    }

    @Test func anUndeliveredEscalationIsTriedAgainAtTheNextTick() async throws {
        try await withTemporaryDirectory(prefix: "keel-escalation-retry") { tmp in
            let store = try SQLiteStore(path: tmp.path("keel.sqlite"))
            let clock = ManualWallClock()
            try await LoopbackHTTPServer.withServer(answering: .init(status: 204)) { hook in
                try await withHTTPClient { client in
                    hook.enqueue(.text("down", status: 404))
                    let notifier = EscalationNotifier(
                        store: store, alerts: AlertDispatcher(channels: [WebhookChannel(url: hook.url, httpClient: client)]),
                        publicURL: "http://127.0.0.1:8765", clock: clock)
                    _ = try await escalated(store, clock, title: "x", reason: "breaker")
                    #expect(try await notifier.notifyPending() == 0)
                    #expect(try await notifier.notifyPending() == 1)
                    #expect(hook.requests.count == 2)
                }
            }
        }
    }
}
