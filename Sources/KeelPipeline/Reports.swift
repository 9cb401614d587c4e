import Foundation
public import KeelCore
public import KeelStore

/// One item as `keel status --json` and `GET /api/items` show it.
public struct ItemSummary: Sendable, Codable, Equatable {
    public var id: Int64
    public var title: String
    public var state: String
    public var attempts: Int
    public var costMicros: Int64
    public var agentRuns: Int
    public var agentSeconds: Double
    public var dependsOn: [Int64]
    public var branch: String?
    public var headSHA: String?
    public var tenant: String
    public var repo: String
    public var createdAt: String
    public var updatedAt: String
    public var notBefore: String?
    /// An epic the planner decomposes.
    public var epic: Bool = false
    /// The epic this item was planned from.
    public var parentID: Int64?

    enum CodingKeys: String, CodingKey {
        case id, title, state, attempts, branch, tenant, repo, epic
        case parentID = "parent_id"
        case costMicros = "cost_micros"
        case agentRuns = "agent_runs"
        case agentSeconds = "agent_seconds"
        case dependsOn = "depends_on"
        case headSHA = "head_sha"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case notBefore = "not_before"
    }
}

/// One row of an item's timeline.
public struct TimelineEntry: Sendable, Codable, Equatable {
    public var from: String?
    public var to: String
    public var reason: String
    public var actor: String
    public var at: String
}

/// An item with its timeline, history, agent runs and check runs (`keel status ID --json`,
/// `GET /api/items/{id}`).
public struct ItemDetail: Sendable, Codable, Equatable {
    public struct Run: Sendable, Codable, Equatable {
        public var id: Int64
        public var attempt: Int
        public var stage: String
        public var agent: String
        public var startedAt: String
        public var endedAt: String?
        public var exitCode: Int?
        public var outcome: String?
        public var transcriptPath: String?
        enum CodingKeys: String, CodingKey {
            case id, attempt, stage, agent, outcome
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case exitCode = "exit_code"
            case transcriptPath = "transcript_path"
        }
    }
    public struct Check: Sendable, Codable, Equatable {
        public var kind: String
        public var headSHA: String
        public var passed: Bool
        public var output: String
        public var at: String
        enum CodingKeys: String, CodingKey {
            case kind, passed, output, at
            case headSHA = "head_sha"
        }
    }
    public struct Memory: Sendable, Codable, Equatable {
        public var attempt: Int
        public var stage: String
        public var kind: String
        public var signature: String?
        public var summary: String
        public var at: String
    }

    /// The latest failure since a person's last decision, with its evidence: what `keel status ID`,
    /// the item's page, `GET /api/items/{id}` and the needs_human alert show a person.
    public struct Failure: Sendable, Codable, Equatable {
        public var attempt: Int
        public var stage: String
        public var signature: String?
        public var summary: String
        /// The bounded tail of what the failure left behind: the failing CI output, the guard's
        /// refusal lines, the agent's stderr. Empty when there is none.
        public var evidence: String
        public var at: String

        /// How much evidence a person is shown: the last lines of the stored detail, at most this many.
        public static let maxLines = 40
        /// ... and at most this many bytes of them.
        public static let maxBytes = 4 * 1024

        /// The latest failure in `history` after a person's last retry or reimplement; nil when there is none.
        public static func latest(in history: [HistoryEntry]) -> Failure? {
            guard let entry = HistoryEntry.sinceLastHumanDecision(history).last(where: { $0.kind == "failure" }) else { return nil }
            return Failure(
                attempt: entry.attempt, stage: entry.stage, signature: entry.signature, summary: entry.summary,
                evidence: tail(entry.detail), at: Timestamp.text(entry.at))
        }

        /// The last ``maxLines`` lines of `text`, within ``maxBytes`` (cut at a line start when it can be),
        /// with a first line saying how much was left out.
        public static func tail(_ text: String, maxLines: Int = maxLines, maxBytes: Int = maxBytes) -> String {
            let lines = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
            guard !(lines.count == 1 && lines[0].isEmpty) else { return "" }
            var kept: [Substring] = []
            var bytes = 0
            for line in lines.reversed() {
                guard kept.count < maxLines, bytes + line.utf8.count + 1 <= maxBytes else { break }
                kept.append(line)
                bytes += line.utf8.count + 1
            }
            if kept.isEmpty, let last = lines.last {
                // One line longer than the limit: its end, which is where errors are printed.
                kept = [Substring(String(decoding: last.utf8.suffix(maxBytes), as: UTF8.self))]
            }
            let omitted = lines.count - kept.count
            let shown = kept.reversed().joined(separator: "\n")
            return omitted > 0 ? "… (\(omitted) earlier line\(omitted == 1 ? "" : "s") left out)\n" + shown : shown
        }
    }

    public var item: ItemSummary
    public var body: String
    public var failure: Failure?
    public var timeline: [TimelineEntry]
    public var history: [Memory]
    public var agentRuns: [Run]
    public var checkRuns: [Check]

    enum CodingKeys: String, CodingKey {
        case item, body, failure, timeline, history
        case agentRuns = "agent_runs"
        case checkRuns = "check_runs"
    }
}

/// Builds the views of items that the CLI, the demo and the HTTP API share.
public enum Reports {
    public static func summary(_ item: WorkItem, store: any Store) async throws -> ItemSummary {
        let figures = try await store.figures(of: item.id)
        return ItemSummary(
            id: item.id, title: item.title, state: item.state.rawValue, attempts: item.attempt, costMicros: figures.costMicros,
            agentRuns: figures.agentRuns, agentSeconds: (figures.agentSeconds * 1000).rounded() / 1000, dependsOn: item.dependsOn,
            branch: item.branch, headSHA: item.headSHA, tenant: item.tenant, repo: item.repo,
            createdAt: Timestamp.text(item.createdAt), updatedAt: Timestamp.text(item.updatedAt),
            notBefore: item.notBefore.map(Timestamp.text), epic: item.isEpic, parentID: item.parentID)
    }

    public static func summaries(store: any Store) async throws -> [ItemSummary] {
        var result: [ItemSummary] = []
        for item in try await store.items() { result.append(try await summary(item, store: store)) }
        return result
    }

    public static func detail(_ id: Int64, store: any Store) async throws -> ItemDetail? {
        guard let item = try await store.item(id) else { return nil }
        let history = try await store.history(of: id)
        return ItemDetail(
            item: try await summary(item, store: store), body: item.body, failure: .latest(in: history),
            timeline: try await store.transitions(of: id).map {
                TimelineEntry(from: $0.from?.rawValue, to: $0.to.rawValue, reason: $0.reason, actor: $0.actor, at: Timestamp.text($0.at))
            },
            history: history.map {
                ItemDetail.Memory(
                    attempt: $0.attempt, stage: $0.stage, kind: $0.kind, signature: $0.signature, summary: $0.summary,
                    at: Timestamp.text($0.at))
            },
            agentRuns: try await store.agentRuns(of: id).map {
                ItemDetail.Run(
                    id: $0.id, attempt: $0.attempt, stage: $0.stage, agent: $0.agent, startedAt: Timestamp.text($0.startedAt),
                    endedAt: $0.endedAt.map(Timestamp.text), exitCode: $0.exitCode, outcome: $0.outcome, transcriptPath: $0.transcriptPath)
            },
            checkRuns: try await store.checkRuns(of: id).map {
                ItemDetail.Check(kind: $0.kind, headSHA: $0.headSHA, passed: $0.passed, output: $0.output, at: Timestamp.text($0.endedAt))
            })
    }

    /// JSON with sorted keys, the form every Keel command and endpoint prints.
    public static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The table `keel status` prints.
    public static func table(_ items: [ItemSummary]) -> String {
        guard !items.isEmpty else { return "No items. File one with `keel submit --title T --body-file F`.\n" }
        var rows = [["ID", "STATE", "ATTEMPTS", "AGENT TIME", "COST", "TITLE"]]
        for i in items {
            rows.append([
                "#\(i.id)", i.state, String(i.attempts), String(format: "%.1f s", i.agentSeconds), Money.format(i.costMicros), i.title,
            ])
        }
        return align(rows)
    }

    /// A per-item text block: figures, then the timeline.
    public static func text(_ d: ItemDetail) -> String {
        var out = "#\(d.item.id) \(d.item.title)\n"
        out += "  state: \(d.item.state)   attempts: \(d.item.attempts)   agent time: \(String(format: "%.1f s", d.item.agentSeconds))"
        out += "   cost: \(Money.format(d.item.costMicros))"
        if !d.item.dependsOn.isEmpty { out += "   depends on: \(d.item.dependsOn.map { "#\($0)" }.joined(separator: ", "))" }
        out += "\n"
        if let failure = d.failure {
            out += "  last failure (attempt \(failure.attempt), \(failure.stage)\(failure.signature.map { ", " + $0 } ?? "")): \(failure.summary)\n"
            if !failure.evidence.isEmpty {
                out += failure.evidence.split(separator: "\n", omittingEmptySubsequences: false).map { "    | \($0)\n" }.joined()
            }
        }
        out += "  timeline:\n"
        for t in d.timeline {
            let time = t.at.count >= 23 ? String(t.at.dropFirst(11).prefix(12)) : t.at
            out += "    \(time)  \(t.from ?? "new") → \(t.to)  \(t.reason)\n"
        }
        return out
    }

    static func align(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
