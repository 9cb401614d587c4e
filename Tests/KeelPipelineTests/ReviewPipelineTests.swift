import Foundation
import KeelCore
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// The inspector's reviewer agent through the pipeline.
extension PipelineTests {
    /// A rig whose `inspect.reviewer` runs `reviewer` (a shell script body).
    func reviewRig(developer: String, reviewer: String, extra: String = "") async throws -> (Rig, TemporaryDirectory) {
        let scripts = try TemporaryDirectory(prefix: "keel-reviewer")
        let path = try Self.script(reviewer, named: "reviewer.sh", in: scripts)
        let rig = try await rig(
            agent: developer, extra: "inspect: {reviewer: {kind: command, command: [\(path)]}}\n\(extra)")
        return (rig, scripts)
    }

    static let developerFollowingReview = #"""
        prompt=$(cat)
        if printf '%s' "$prompt" | grep -q 'Add a test for empty input'; then
            echo 'item with test' > shared.txt
            echo '{"addressed": [{"item": "Add a test for empty input", "files": ["shared.txt"]}]}' > "$KEEL_CLAIMS_FILE"
        else
            echo 'item' > shared.txt
        fi

        """#

    @Test func changesRequestedGoBackToDevelopWithTheItemsAndTheFixIsApproved() async throws {
        let reviewer = #"""
            cat > /dev/null
            [ -n "$KEEL_DIFF_FILE" ] && grep -q 'shared.txt' "$KEEL_DIFF_FILE" || { echo 'no diff given' >&2; exit 2; }
            if grep -q 'with test' shared.txt; then
                echo 'Looks complete.'
                echo '{"verdict": "APPROVE", "items": [], "confidence": 0.9}'
            else
                echo '{"verdict": "CHANGES_REQUESTED", "items": ["Add a test for empty input"], "confidence": 0.8}'
            fi

            """#
        let (rig, scripts) = try await reviewRig(developer: Self.developerFollowingReview, reviewer: reviewer)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "reviewed")
        try await rig.scheduler.runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 2, "\(rig.events.all.joined(separator: "\n"))")
        let history = try await rig.store.history(of: item.id)
        let sentBack = try #require(history.first { $0.kind == "failure" })
        #expect(sentBack.signature == "review:changes_requested" && sentBack.detail == "1. Add a test for empty input")
        #expect(history.last?.kind == "verdict" && history.last?.summary == "APPROVE (confidence 0.90)")
        let runs = try await rig.store.agentRuns(of: item.id)
        #expect(runs.map(\.stage) == ["develop", "review", "develop", "review"])
        #expect(try await rig.repos.git.run(["show", "main:shared.txt"], in: rig.origin) == "item with test\n")
    }

    @Test func anUnparseableVerdictGoesToAPersonReviewReadyAndIsNotRetried() async throws {
        let reviewer = #"""
            cat > /dev/null
            echo 'Overall this is fine. {"verdict": "APPROVE", "items": [], "confid'

            """#
        let (rig, scripts) = try await reviewRig(developer: "cat > /dev/null\necho 'item' > shared.txt\n", reviewer: reviewer)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "garbled verdict")
        try await rig.scheduler.runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman && final.attempt == 1)
        let runs = try await rig.store.agentRuns(of: item.id)
        #expect(runs.filter { $0.stage == "review" }.count == 1, "retrying produces the same garbage: one run only")
        let entry = try #require(try await rig.store.history(of: item.id).last)
        #expect(entry.kind == "review_ready" && entry.signature == "verdict_unparseable")
        let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
        #expect(reason.contains("truncated JSON") && reason.contains("review-ready") && reason.contains("keel/item-\(item.id)"), "\(reason)")
    }

    @Test func aFailedReviewerRunIsRetriedInReviewWithoutRedevelopingTheChange() async throws {
        let reviewer = #"""
            cat > /dev/null
            marker="$KEEL_WORKSPACE/../reviewed-once"
            if [ ! -f "$marker" ]; then
                touch "$marker"
                echo 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' >&2
                exit 1
            fi
            echo '{"verdict": "APPROVE", "items": [], "confidence": 1}'

            """#
        let (rig, scripts) = try await reviewRig(developer: "cat > /dev/null\necho 'item' > shared.txt\n", reviewer: reviewer)
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "flaky reviewer")
        try await rig.scheduler.runUntilSettled()

        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 1, "\(rig.events.all.joined(separator: "\n"))")
        let runs = try await rig.store.agentRuns(of: item.id)
        #expect(runs.map(\.stage) == ["develop", "review", "review"])
        #expect(try await rig.store.history(of: item.id).contains { $0.signature?.hasPrefix("reviewer_failed:agent_exit:1:") == true })
    }

    @Test func anApprovalBelowTheMinimumConfidenceGoesToAPerson() async throws {
        let reviewer = "cat > /dev/null\necho '{\"verdict\": \"APPROVE\", \"items\": [\"unsure about edge cases\"], \"confidence\": 0.4}'\n"
        let (rig, scripts) = try await reviewRig(
            developer: "cat > /dev/null\necho 'item' > shared.txt\n", reviewer: reviewer)
        defer { rig.tmp.remove(); scripts.remove() }
        var environment = rig.environment
        environment.config.inspect.minConfidence = 0.7
        let item = try await submit(rig, "unsure")
        try await Scheduler(environment: environment).runUntilSettled()
        #expect(try await rig.store.item(item.id)?.state == .needsHuman)
        #expect(try await rig.store.history(of: item.id).last?.signature == "review_low_confidence")
    }

    @Test func aReviewThatWouldCrossTheIssueBudgetIsNotStarted() async throws {
        let developer = """
            cat > /dev/null
            echo 'item' > shared.txt
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"done","total_cost_usd":1.0,"usage":{"input_tokens":1,"output_tokens":1}}'

            """
        let (rig, scripts) = try await reviewRig(
            developer: developer, reviewer: "cat > /dev/null\necho '{\"verdict\": \"APPROVE\", \"items\": [], \"confidence\": 1}'\n",
            extra: "budgets: {issue_usd: 1.5, estimate_usd: 1}")
        defer { rig.tmp.remove(); scripts.remove() }
        let item = try await submit(rig, "expensive")
        try await rig.scheduler.runUntilSettled()
        #expect(try await rig.store.item(item.id)?.state == .needsHuman)
        #expect(try await rig.store.agentRuns(of: item.id).map(\.stage) == ["develop"], "the reviewer never started")
        let reason = try #require(try await rig.store.transitions(of: item.id).last?.reason)
        #expect(reason.contains("the issue budget of #\(item.id) would be crossed: spent $1.00"), "\(reason)")
    }
}
