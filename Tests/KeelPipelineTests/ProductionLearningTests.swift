import Foundation
import KeelCore
import KeelGit
import KeelPipeline
import KeelStore
import KeelTestSupport
import Testing

/// The production learnings of field report 002, replayed through the pipeline.
extension PipelineTests {
    /// Attempt 1 misreads the criteria (`Item` where CI wants `item`). An agent that reads the
    /// history Keel gives it does not repeat the misreading.
    static func misreadingAgent(readsHistory: Bool) -> String {
        """
        cat > /dev/null
        if \(readsHistory ? "grep -q 'FAIL shared.txt' \"$KEEL_HISTORY_FILE\"" : "false"); then
            echo 'item done right' > shared.txt
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"Lowercase item, as the failed CI run showed.","total_cost_usd":0.01,"usage":{"input_tokens":10,"output_tokens":5}}'
        else
            echo 'Item done' > shared.txt
            echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"I read the criteria as: start shared.txt with Item.","total_cost_usd":0.01,"usage":{"input_tokens":10,"output_tokens":5}}'
        fi

        """
    }

    @Test func aReRunIsGivenTheHistorySoItDoesNotRepeatTheMisreading() async throws {
        let rig = try await rig(agent: Self.misreadingAgent(readsHistory: true))
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "misread")
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 2, "\(rig.events.all.joined(separator: "\n"))")
        let history = try await rig.store.history(of: item.id)
        #expect(history.map(\.kind) == ["attempt", "failure", "attempt"])
        #expect(history[0].summary.contains("I read the criteria as: start shared.txt with Item."), "the attempt's own account is kept")
        #expect(history[1].detail.contains("FAIL shared.txt"))
        let prompts = try await rig.store.agentRuns(of: item.id)
        #expect(prompts.count == 2)
    }

    @Test func withoutReadingTheHistoryTheSameMisreadingRepeatsUntilTheBreaker() async throws {
        let rig = try await rig(agent: Self.misreadingAgent(readsHistory: false))
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "misread blind")
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .needsHuman && final.attempt == 3)
        let failures = try await rig.store.history(of: item.id).filter { $0.kind == "failure" }
        #expect(failures.map(\.signature) == Array(repeating: "checks_failed:sh ci.sh", count: 3))
        #expect(try await rig.store.item(item.id)?.spentMicros == 30_000, "paying three times for the same wrong answer")
    }

    /// Attempt 1 claims it validated input in app.py, with contents it invented: app.py was never
    /// written. Attempt 2 does the work and claims it truthfully.
    @Test func inventedFileContentsAreRejectedByTheEvidenceCheck() async throws {
        let agent = #"""
            cat > /dev/null
            if [ "$KEEL_ATTEMPT" = 1 ]; then
                echo 'notes' > notes.txt
                echo '{"addressed": [{"item": "validate input", "files": [{"path": "app.py", "contains": "if not argv"}]}]}' > "$KEEL_CLAIMS_FILE"
            else
                printf 'def parse(argv):\n    if not argv:\n        raise SystemExit(1)\n' > app.py
                sum=$(sha256sum app.py | cut -d' ' -f1)
                echo "{\"addressed\": [{\"item\": \"validate input\", \"files\": [{\"path\": \"app.py\", \"sha256\": \"$sum\", \"contains\": \"if not argv\"}]}]}" > "$KEEL_CLAIMS_FILE"
            fi

            """#
        let rig = try await rig(agent: agent)
        defer { rig.tmp.remove() }
        let item = try await submit(rig, "validate input")
        try await rig.scheduler.runUntilSettled()
        let final = try #require(try await rig.store.item(item.id))
        #expect(final.state == .merged && final.attempt == 2, "\(rig.events.all.joined(separator: "\n"))")
        let rejected = try #require(try await rig.store.history(of: item.id).first { $0.kind == "failure" })
        #expect(rejected.signature == "evidence_rejected")
        #expect(rejected.summary.contains("app.py (for \"validate input\") does not exist in the clone"), "\(rejected.summary)")
        #expect(rejected.detail.contains("notes.txt  "), "the manifest of what was really changed")
        let merged = try await rig.repos.git.run(["show", "main:app.py"], in: rig.origin)
        #expect(merged.contains("if not argv"))
        let developed = try #require(try await rig.store.transitions(of: item.id).last { $0.to == .pushing })
        #expect(developed.reason.contains("1 claim(s) verified"))
    }
}
