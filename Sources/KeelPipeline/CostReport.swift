public import Foundation
public import KeelCore
public import KeelStore

/// What `keel cost` prints: the cost ledger summed by issue, agent, repo, tenant or day.
///
/// ```swift
/// let report = try await CostReport.make(by: .agent, since: nil, store: store)
/// print(report.text)   // AGENT  RUNS  TURNS  INPUT  OUTPUT  CACHE READ  CACHE WRITE  COST ...
/// ```
public struct CostReport: Sendable, Encodable {
    public var by: CostGrouping
    public var since: Date?
    public var lines: [CostLine]
    public var totalCostMicros: Micros { lines.reduce(0) { $0 + $1.costMicros } }
    public var totalRuns: Int { lines.reduce(0) { $0 + $1.runs } }
    public var unpricedRuns: Int { lines.reduce(0) { $0 + $1.unpricedRuns } }

    enum CodingKeys: String, CodingKey {
        case by, since, lines, totalCostMicros = "total_cost_micros", totalRuns = "total_runs", unpricedRuns = "unpriced_runs"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(by.rawValue, forKey: .by)
        try container.encodeIfPresent(since.map(Timestamp.text), forKey: .since)
        try container.encode(lines, forKey: .lines)
        try container.encode(totalCostMicros, forKey: .totalCostMicros)
        try container.encode(totalRuns, forKey: .totalRuns)
        try container.encode(unpricedRuns, forKey: .unpricedRuns)
    }

    /// Reads the summary from `store`.
    public static func make(by grouping: CostGrouping, since: Date?, store: any Store) async throws -> CostReport {
        CostReport(by: grouping, since: since, lines: try await store.costReport(by: grouping, since: since))
    }

    /// The table, a total line, and a note on runs that could not be priced.
    public var text: String {
        guard !lines.isEmpty else {
            return "No agent runs with a cost yet\(since.map { " since \(Timestamp.text($0))" } ?? ""). Costs appear as agents finish runs.\n"
        }
        let head = by == .issue ? "ISSUE" : by.rawValue.uppercased()
        var rows = [[head, "RUNS", "TURNS", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "COST"]]
        for line in lines {
            let name = by == .issue ? "#\(line.key)" + (line.title.map { " \(Self.clip($0))" } ?? "") : line.key
            rows.append([
                name, String(line.runs), String(line.turns), Self.count(line.inputTokens), Self.count(line.outputTokens),
                Self.count(line.cacheReadTokens), Self.count(line.cacheWriteTokens),
                Money.format(line.costMicros) + (line.unpricedRuns > 0 ? " (+\(line.unpricedRuns) unpriced)" : ""),
            ])
        }
        rows.append(["total", String(totalRuns), "", "", "", "", "", Money.format(totalCostMicros)])
        var out = Reports.align(rows)
        if unpricedRuns > 0 {
            out += "\n\(unpricedRuns) run(s) have no known cost (the agent reported none, or died before reporting): "
                + "they count as $0. For agents that report tokens but no cost, add their model to `pricing` in keel.yml.\n"
        }
        return out
    }

    static func clip(_ title: String) -> String {
        title.count > 40 ? String(title.prefix(39)) + "…" : title
    }

    /// 1234567 → `1,234,567`.
    static func count(_ value: Int) -> String {
        let digits = String(value)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }
}
