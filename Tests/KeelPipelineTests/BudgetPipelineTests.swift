import Foundation
import KeelCore
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

extension PipelineTests {
    /// An agent that writes its own file and reports a run costing exactly $1.00.
    static let dollarAgent = """
        cat > /dev/null
        echo "item $KEEL_ITEM_ID" > "file-$KEEL_ITEM_ID.txt"
        echo '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"total_cost_usd":1.0,"usage":{"input_tokens":1000,"output_tokens":100}}'

        """

    @Test func manyConcurrentWorkersNeverSpendPastTheTenantCeiling() async throws {
        let rig = try await rig(
            agent: Self.dollarAgent, workers: 6,
            extra: "budgets: {tenant_usd: 5, estimate_usd: 1, period: total}")
        defer { rig.tmp.remove() }
        var items: [WorkItem] = []
        for i in 1...12 { items.append(try await submit(rig, "task \(i)")) }

        try await rig.scheduler.runUntilSettled()

        let final = try await rig.store.items()
        let merged = final.filter { $0.state == .merged }
        let stopped = final.filter { $0.state == .needsHuman }
        // Five claims fit under the ceiling and each merges: a lost race to push the base is the
        // marshal's to retry, never a second agent run. The other seven never start an agent.
        #expect(merged.count == 5, "\(rig.events.all.joined(separator: "\n"))")
        #expect(stopped.count == 7)
        let tenant = try await rig.store.costReport(by: .tenant, since: nil)
        #expect(tenant.first?.costMicros == 5_000_000, "no overshoot: exactly the ceiling")
        #expect(tenant.first?.runs == 5)
        #expect(merged.allSatisfy { $0.attempt == 1 }, "\(merged.map(\.attempt))")
        #expect(stopped.allSatisfy { $0.attempt == 0 }, "never dequeued: \(stopped.map(\.attempt))")
        for item in stopped { #expect(try await rig.store.agentRuns(of: item.id).isEmpty, "an agent ran for #\(item.id)") }
        for item in stopped {
            let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
            #expect(reason.contains("the tenant budget of default would be crossed") && reason.contains("ceiling $5.00"), "\(reason)")
        }
        #expect(rig.events.all.contains { $0.contains("needs_human") && $0.contains("budget:") })
    }

    @Test func aRetriedItemIsStoppedByItsIssueBudgetWithTheSpendAttributedToIt() async throws {
        // The field report's sub-issue retried nine times: every attempt fails CI and costs $1.
        let agent = """
            cat > /dev/null
            echo "broken $KEEL_ATTEMPT" > shared.txt
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":1.0,"usage":{"input_tokens":10,"output_tokens":1}}'

            """
        let rig = try await rig(agent: agent, extra: "budgets: {issue_usd: 2.5, estimate_usd: 1}")
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "sub-issue")
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman)
        #expect(final.attempt == 2, "a third attempt would have crossed $2.50")
        #expect(final.spentMicros == 2_000_000)
        let byIssue = try await rig.store.costReport(by: .issue, since: nil)
        #expect(byIssue.map(\.key) == ["\(item.id)"] && byIssue.first?.costMicros == 2_000_000 && byIssue.first?.runs == 2)
        #expect(try await rig.store.history(of: item.id).last?.signature == "budget:issue")
    }

    @Test func anItemsOwnBudgetHoldsWithoutAnyCeilingInKeelYml() async throws {
        let agent = """
            cat > /dev/null
            echo "broken $KEEL_ATTEMPT" > shared.txt
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"total_cost_usd":1.0,"usage":{"input_tokens":10,"output_tokens":1}}'

            """
        let rig = try await rig(agent: agent)
        defer { rig.tmp.remove() }
        let item = try await rig.store.createItem(
            NewItem(repo: "rig", title: "capped", body: "", budgetMicros: 1_500_000), actor: "test", now: Date())
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman && final.attempt == 1 && final.spentMicros == 1_000_000)
        #expect(try await rig.store.transitions(of: item.id).last?.reason.contains("ceiling $1.50") == true)
    }
}
