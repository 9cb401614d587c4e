import Foundation
import Hummingbird
import HummingbirdTesting
import KeelCore
import KeelServer
import KeelStore
import KeelTestSupport
import NIOCore
import Testing

@Suite struct KeelHTTPTests {
    func withServer(_ body: @escaping @Sendable (SQLiteStore, any TestClientProtocol) async throws -> Void) async throws {
        try await withTemporaryDirectory(prefix: "keel-http") { tmp in
            let store = try SQLiteStore(path: tmp.path("keel.sqlite"))
            let app = Application(router: KeelHTTP.router(store: store))
            try await app.test(.live) { client in try await body(store, client) }
        }
    }

    @Test func healthzAnswersOk() async throws {
        try await withServer { _, client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
        }
    }

    @Test func itemsListsWhatStatusLists() async throws {
        try await withServer { store, client in
            let a = try await store.createItem(NewItem(repo: "r", title: "First", body: "b"), actor: "t", now: Date())
            _ = try await store.createItem(NewItem(repo: "r", title: "Second", body: "b", dependsOn: [a.id]), actor: "t", now: Date())
            try await client.execute(uri: "/api/items", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                struct Items: Decodable { struct Item: Decodable { var id: Int64; var title: String; var state: String; var attempts: Int; var cost_micros: Int64; var depends_on: [Int64] }; var items: [Item] }
                let items = try JSONDecoder().decode(Items.self, from: Data(String(buffer: response.body).utf8)).items
                #expect(items.map(\.title) == ["First", "Second"])
                #expect(items.map(\.state) == ["queued", "blocked"])
                #expect(items[1].depends_on == [a.id])
            }
        }
    }

    @Test func oneItemComesWithItsTimeline() async throws {
        try await withServer { store, client in
            let item = try await store.createItem(NewItem(repo: "r", title: "Only", body: "text"), actor: "t", now: Date())
            _ = try await store.transition(itemID: item.id, on: .cancelRequested, reason: "not needed", actor: "cli:ann", now: Date(), changes: ItemChanges())
            try await client.execute(uri: "/api/items/\(item.id)", method: .get) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                struct Detail: Decodable { struct Entry: Decodable { var from: String?; var to: String; var reason: String; var actor: String }; var timeline: [Entry] }
                let detail = try JSONDecoder().decode(Detail.self, from: Data(body.utf8))
                #expect(detail.timeline.map(\.to) == ["queued", "cancelled"])
                #expect(detail.timeline.last?.actor == "cli:ann")
            }
            try await client.execute(uri: "/api/items/999", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("no item #999"))
            }
            try await client.execute(uri: "/api/items/abc", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func metricsAreValidPrometheusText() async throws {
        try await withServer { store, client in
            let item = try await store.createItem(NewItem(repo: "r", title: "x", body: "b"), actor: "t", now: Date())
            let run = try await store.startAgentRun(
                itemID: item.id, attempt: 1, stage: "develop", agent: "sample", command: "c", transcriptPath: nil, promptSHA256: "h", now: Date())
            try await store.finishAgentRun(run, exitCode: 0, outcome: "success", cost: CostEvent(costMicros: 1234), now: Date())
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("keel_items{state=\"queued\"} 1"))
                #expect(text.contains("keel_items{state=\"merged\"} 0"))
                #expect(text.contains("keel_state_transitions_total 1"))
                #expect(text.contains("keel_agent_runs_total{outcome=\"success\"} 1"))
                #expect(text.contains("keel_cost_micros_total 1234"))
                // Every sample line is `name{labels} number` or `name number`.
                for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                    let parts = line.split(separator: " ")
                    #expect(parts.count == 2 && Double(parts[1]) != nil, "bad sample line: \(line)")
                }
            }
        }
    }
}
