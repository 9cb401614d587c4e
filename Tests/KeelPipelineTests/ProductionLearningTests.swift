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
            echo "Item done (attempt $KEEL_ATTEMPT)" > shared.txt
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

    /// Workers sharing a host-mounted `.git` corrupted `.git/config` with concurrent writes. Each
    /// Keel worker has its own clone: concurrent agents writing their repository's config never
    /// touch each other's.
    @Test func concurrentWorkersEachHaveTheirOwnClone() async throws {
        let scratch = try TemporaryDirectory(prefix: "keel-own-clones")
        defer { scratch.remove() }
        let log = scratch.path("git-dirs.log")
        let agent = """
            cat > /dev/null
            echo "$KEEL_ITEM_ID $(git rev-parse --absolute-git-dir)" >> '\(log)'
            i=0
            while [ $i -lt 20 ]; do git config keel.note "item $KEEL_ITEM_ID $i"; i=$((i + 1)); done
            [ "$(git config keel.note)" = "item $KEEL_ITEM_ID 19" ] || { echo "config clobbered: $(git config keel.note)" >&2; exit 7; }
            echo "item $KEEL_ITEM_ID" > "own-$KEEL_ITEM_ID.txt"

            """
        let rig = try await rig(agent: agent, workers: 6)
        defer { rig.tmp.remove() }
        for i in 1...6 { _ = try await submit(rig, "parallel \(i)") }
        try await rig.scheduler.runUntilSettled()

        let items = try await rig.store.items()
        #expect(items.allSatisfy { $0.state == .merged }, "\(rig.events.all.joined(separator: "\n"))")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        // Runs of one item (a retried merge race) use its clone again; no two items ever share one.
        var dirsByItem: [String: Set<String>] = [:]
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            dirsByItem[parts[0], default: []].insert(parts[1])
        }
        #expect(dirsByItem.count == 6 && dirsByItem.values.allSatisfy { $0.count == 1 })
        #expect(Set(dirsByItem.values.flatMap { $0 }).count == 6, "no two items shared a .git: \(dirsByItem)")
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1)
            #expect(parts[1].hasSuffix("/item-\(parts[0])/repo/.git"), "each item's clone is its own: \(line)")
        }
    }
}
