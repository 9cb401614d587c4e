import Foundation

/// The planner agent's decomposition of an epic: sub-issues and the dependency edges between
/// them, from a JSON object in its final message (or `KEEL_PLAN_FILE`):
///
/// ```json
/// {"issues": [
///   {"id": "schema", "title": "Add the users table", "body": "...", "acceptance": "...", "depends_on": []},
///   {"id": "api", "title": "Expose GET /users", "body": "...", "depends_on": ["schema"]}
/// ]}
/// ```
///
/// Validated before anything is filed: ids are unique and non-empty, titles non-empty, every
/// `depends_on` names an id of the plan, and the edges have no cycle.
public struct EpicPlan: Sendable, Equatable {
    public struct Issue: Sendable, Equatable {
        public var id: String
        public var title: String
        public var body: String
        public var acceptance: String?
        public var dependsOn: [String]

        public init(id: String, title: String, body: String, acceptance: String? = nil, dependsOn: [String] = []) {
            self.id = id
            self.title = title
            self.body = body
            self.acceptance = acceptance
            self.dependsOn = dependsOn
        }
    }

    /// The sub-issues in an order where every one comes after its dependencies.
    public var issues: [Issue]

    /// Why a planner's output is not a usable plan.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public init(issues: [Issue]) {
        self.issues = issues
    }

    /// Reads and validates the last JSON object with an `issues` key in `text`.
    public static func parse(_ text: String) throws(Invalid) -> EpicPlan {
        guard let object = JSONObjects.last(in: text, withKey: "issues") else {
            throw Invalid(reason: "no JSON object with an \"issues\" list in the planner's output (\(text.isEmpty ? "it is empty" : "\"\(text.prefix(80))\""))")
        }
        guard let list = object["issues"] as? [Any], !list.isEmpty else {
            throw Invalid(reason: "\"issues\" must be a non-empty list of sub-issues")
        }
        var issues: [Issue] = []
        for (index, entry) in list.enumerated() {
            guard let entry = entry as? [String: Any] else { throw Invalid(reason: "issues[\(index)] is not an object") }
            let id = (entry["id"] as? String) ?? (entry["id"] as? NSNumber).map { "\($0)" } ?? ""
            guard !id.trimmingCharacters(in: .whitespaces).isEmpty else { throw Invalid(reason: "issues[\(index)] has no \"id\"") }
            guard let title = entry["title"] as? String, !title.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Invalid(reason: "issue \"\(id)\" has no \"title\"")
            }
            var deps: [String] = []
            for dep in (entry["depends_on"] as? [Any] ?? []).map({ ($0 as? String) ?? "\($0)" }) where !deps.contains(dep) {
                deps.append(dep)  // a repeated edge is one edge
            }
            issues.append(
                Issue(id: id, title: title, body: entry["body"] as? String ?? "", acceptance: entry["acceptance"] as? String, dependsOn: deps))
        }
        return try validated(issues)
    }

    /// Checks ids and edges; returns the plan with its issues in dependency order (stable).
    public static func validated(_ issues: [Issue]) throws(Invalid) -> EpicPlan {
        var seen = Set<String>()
        for issue in issues where !seen.insert(issue.id).inserted {
            throw Invalid(reason: "the id \"\(issue.id)\" is used by more than one issue")
        }
        for issue in issues {
            for dep in issue.dependsOn where !seen.contains(dep) {
                throw Invalid(reason: "issue \"\(issue.id)\" depends on \"\(dep)\", which is not an id of this plan (ids: \(issues.map(\.id).joined(separator: ", ")))")
            }
            if issue.dependsOn.contains(issue.id) { throw Invalid(reason: "issue \"\(issue.id)\" depends on itself") }
        }
        // Kahn's algorithm, taking ready issues in the planner's order; what is left is a cycle.
        var ordered: [Issue] = []
        var placed = Set<String>()
        var remaining = issues
        while !remaining.isEmpty {
            guard let next = remaining.firstIndex(where: { $0.dependsOn.allSatisfy(placed.contains) }) else {
                throw Invalid(reason: "the dependencies form a cycle: \(cycle(in: remaining).joined(separator: " → "))")
            }
            placed.insert(remaining[next].id)
            ordered.append(remaining.remove(at: next))
        }
        return EpicPlan(issues: ordered)
    }

    /// One cycle among `issues` (each of which has an unplaced dependency), as a closed path.
    private static func cycle(in issues: [Issue]) -> [String] {
        let byID = Dictionary(uniqueKeysWithValues: issues.map { ($0.id, $0) })
        var path: [String] = []
        var current = issues[0].id
        while !path.contains(current) {
            path.append(current)
            current = byID[current]?.dependsOn.first { byID[$0] != nil } ?? current
        }
        return Array(path[path.firstIndex(of: current)!...]) + [current]
    }
}
