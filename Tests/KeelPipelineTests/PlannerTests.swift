import Foundation
import KeelCore
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// Epics: the planner's sub-issues run in dependency order and the epic closes when they merge.
extension PipelineTests {
    func plannerRig(planner: String, developer: String, extra: String = "") async throws -> (Rig, TemporaryDirectory) {
        let scripts = try TemporaryDirectory(prefix: "keel-planner")
        let path = try Self.script(planner, named: "planner.sh", in: scripts)
        let rig = try await rig(agent: developer, extra: "planner: {agent: {kind: command, command: [\(path)]}}\n\(extra)")
        return (rig, scripts)
    }

    /// Each sub-issue writes its own file, recording the order the work happened in.
    static let orderedDeveloper = """
        cat > /dev/null
        echo "item $KEEL_ITEM_ID" > "part-$KEEL_ITEM_ID.txt"
        echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.05,"usage":{"input_tokens":10,"output_tokens":5}}'

        """

    @Test func anEpicIsPlannedIntoSubIssuesThatMergeInDependencyOrderAndTheEpicCloses() async throws {
        let planner = #"""
            cat > /dev/null
            cat > "$KEEL_PLAN_FILE" <<'JSON'
            {"issues": [
              {"id": "api", "title": "Expose the endpoint", "body": "GET /users", "depends_on": ["schema"]},
              {"id": "schema", "title": "Add the table", "body": "users", "acceptance": "migrates"},
              {"id": "docs", "title": "Document it", "body": "README", "depends_on": ["api"]}
            ]}
            JSON

            """#
        let (rig, scripts) = try await plannerRig(planner: planner, developer: Self.orderedDeveloper)
        defer { rig.tmp.remove(); scripts.remove() }
        let epic = try await rig.store.createItem(NewItem(repo: "rig", title: "Users", body: "A users API.", epic: true), actor: "test", now: Date())
        try await rig.scheduler.runUntilSettled()

        let items = try await rig.store.items()
        let children = items.filter { $0.parentID == epic.id }
        #expect(children.map(\.title) == ["Add the table", "Expose the endpoint", "Document it"], "\(rig.events.all.joined(separator: "\n"))")
        #expect(children.allSatisfy { $0.state == .merged })
        #expect(children[1].dependsOn == [children[0].id] && children[2].dependsOn == [children[1].id])
        let final = try #require(try await rig.store.item(epic.id))
        #expect(final.state == .merged && final.isEpic)
        #expect(try await rig.store.transitions(of: epic.id).last?.reason.contains("all sub-issues done") == true)
        // Dependency order on main: each merge comes after the one it depends on.
        let subjects = try await rig.repos.git.run(["log", "--format=%s", "--first-parent", "--reverse", "main"], in: rig.origin)
            .split(separator: "\n").filter { $0.hasPrefix("Merge keel/") }
        #expect(subjects.map { String($0.split(separator: ":")[0]) } == children.map { "Merge keel/item-\($0.id)" })
        #expect(try await rig.store.agentRuns(of: epic.id).map(\.stage) == ["plan"])
    }

    @Test func aPlanWithACycleIsRejectedAndTheNextPlanningRunIsToldWhy() async throws {
        let planner = #"""
            prompt=$(cat)
            if printf '%s' "$prompt" | grep -q 'The last plan was rejected: the plan was rejected: the dependencies form a cycle'; then
                echo '{"issues": [{"id": "a", "title": "First"}, {"id": "b", "title": "Second", "depends_on": ["a"]}]}'
            else
                echo 'Plan: {"issues": [{"id": "a", "title": "First", "depends_on": ["b"]}, {"id": "b", "title": "Second", "depends_on": ["a"]}]}'
            fi

            """#
        let (rig, scripts) = try await plannerRig(planner: planner, developer: Self.orderedDeveloper)
        defer { rig.tmp.remove(); scripts.remove() }
        let epic = try await rig.store.createItem(NewItem(repo: "rig", title: "Two steps", body: "", epic: true), actor: "test", now: Date())
        try await rig.scheduler.runUntilSettled()
        let history = try await rig.store.history(of: epic.id)
        let rejected = try #require(history.first { $0.signature == "plan_invalid" })
        #expect(rejected.summary == "the plan was rejected: the dependencies form a cycle: a → b → a")
        #expect(try await rig.store.items().filter { $0.parentID == epic.id }.count == 2, "nothing filed from the rejected plan")
        #expect(try await rig.store.item(epic.id)?.state == .merged)
    }

    /// Field report 002: a sub-issue retried nine times on a transient failure. Here the breaker
    /// stops it at three, the epic waits for a person, and `keel cost --by issue` shows whose spend it was.
    @Test func aStuckSubIssueIsStoppedByTheBreakerWithItsSpendAttributedToIt() async throws {
        let planner = #"""
            cat > /dev/null
            echo '{"issues": [{"id": "ok", "title": "Works"}, {"id": "stuck", "title": "Keeps failing"}]}'

            """#
        let developer = #"""
            prompt=$(cat)
            if printf '%s' "$prompt" | grep -q 'Keeps failing'; then
                echo '{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":9,"errors":["API Error: socket hang up (ECONNRESET)"],"total_cost_usd":0.60,"usage":{"input_tokens":900,"output_tokens":90}}'
                exit 1
            fi
            echo "item $KEEL_ITEM_ID" > "part-$KEEL_ITEM_ID.txt"
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":0.10,"usage":{"input_tokens":10,"output_tokens":5}}'

            """#
        let (rig, scripts) = try await plannerRig(planner: planner, developer: developer, extra: "budgets: {issue_usd: 5, estimate_usd: 0.5}")
        defer { rig.tmp.remove(); scripts.remove() }
        let epic = try await rig.store.createItem(NewItem(repo: "rig", title: "Epic", body: "", epic: true), actor: "test", now: Date())
        try await rig.scheduler.runUntilSettled()
        let children = try await rig.store.items().filter { $0.parentID == epic.id }
        let stuck = try #require(children.first { $0.title == "Keeps failing" })
        #expect(stuck.state == .needsHuman && stuck.attempt == 3, "stopped at the breaker's threshold, not nine")
        let failures = try await rig.store.history(of: stuck.id).filter { $0.kind == "failure" }
        #expect(failures.count == 3 && Set(failures.compactMap(\.signature)).count == 1, "\(failures.map(\.signature))")
        #expect(failures.first?.signature?.hasPrefix("agent_error:") == true)
        let byIssue = try await rig.store.costReport(by: .issue, since: nil)
        let stuckLine = try #require(byIssue.first)
        #expect(stuckLine.key == "\(stuck.id)" && stuckLine.title == "Keeps failing", "the biggest spender is named first")
        #expect(stuckLine.costMicros == 1_800_000 && stuckLine.runs == 3 && stuckLine.turns == 27)
        let total = byIssue.reduce(0) { $0 + $1.costMicros }
        #expect(Double(stuckLine.costMicros) / Double(total) > 0.6, "most of the spend, attributed to the one sub-issue")
        #expect(children.first { $0.title == "Works" }?.state == .merged)
        #expect(try await rig.store.item(epic.id)?.state == .blocked, "the epic waits for its stuck sub-issue")
    }
}
