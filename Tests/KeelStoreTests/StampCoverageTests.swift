import Foundation
import KeelLedger
import KeelStore
import Testing

/// Rows against their stamps, without a database: what `keel ledger verify` reports when a row or
/// a stamp went missing or a row was edited behind Keel's back.
@Suite struct StampCoverageTests {
    let signer = SigningIdentity.generate(createdAt: 1_790_000_000)
    let second: Int64 = 1_790_000_000

    /// Signed events carrying `payloads` in order, as (seq, text).
    func chain(_ payloads: [JSONObject]) throws -> [(seq: Int64, text: String)] {
        var previous = signer.key.genesisHash
        var out: [(seq: Int64, text: String)] = []
        for (index, fields) in payloads.enumerated() {
            var payload = fields
            payload["seq"] = .integer(Int64(index + 1))
            let stamp = try Stamper.stamp(payload: payload, previousHash: previous, signer: signer, timestamp: second, nonce: UUID())
            previous = stamp.hash
            out.append((Int64(index + 1), stamp.text))
        }
        return out
    }

    func iso(_ seconds: Int64, ms: Int = 0) -> String {
        Timestamp.text(Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(ms) / 1000))
    }

    func transition(_ id: Int64, item: Int64 = 1, from: String? = "queued", to: String = "developing", reason: String = "claimed", ms: Int = 0)
        -> (StampCoverage.Row, JSONObject)
    {
        let row = StampCoverage.Row(
            table: .stateTransitions, id: id,
            values: [
                "item_id": .integer(item), "from_state": from.map(JSONValue.string) ?? .null, "to_state": .string(to), "reason": .string(reason),
                "actor": "worker-1", "at": .string(iso(second, ms: ms)),
            ])
        let stamp: JSONObject = [
            "event_type": "state_transition", "transition_id": .integer(id), "item_id": .integer(item),
            "from_state": from.map(JSONValue.string) ?? .null, "to_state": .string(to), "reason": .string(reason), "actor": "worker-1",
            "at": .integer(second),
        ]
        return (row, stamp)
    }

    func run(_ id: Int64, outcome: String = "success", exitCode: Int64? = 0, finished: Bool = true) -> (StampCoverage.Row, JSONObject) {
        let row = StampCoverage.Row(
            table: .agentRuns, id: id,
            values: [
                "item_id": 1, "attempt": 1, "stage": "develop", "agent": "sample", "outcome": finished ? .string(outcome) : .null,
                "exit_code": finished ? (exitCode.map(JSONValue.integer) ?? .null) : .null, "prompt_sha256": "ab12",
                "started_at": .string(iso(second - 5, ms: 250)), "ended_at": finished ? .string(iso(second, ms: 500)) : .null,
            ])
        let stamp: JSONObject = [
            "event_type": "agent_run", "run_id": .integer(id), "item_id": 1, "attempt": 1, "stage": "develop", "agent": "sample",
            "outcome": .string(outcome), "exit_code": exitCode.map(JSONValue.integer) ?? .null, "prompt_sha256": "ab12",
            "started_at": .integer(second - 5), "ended_at": .integer(second),
        ]
        return (row, stamp)
    }

    func cost(_ id: Int64, run: Int64, micros: Int64 = 3333, inputTokens: Int64 = 190) -> (StampCoverage.Row, JSONObject) {
        var values: JSONObject = [
            "item_id": 1, "tenant": "default", "repo": "demo", "agent": "sample", "model": "m-1", "turns": 2,
            "input_tokens": .integer(inputTokens), "output_tokens": 93, "cache_read_tokens": 0, "cache_write_tokens": 0,
            "cost_micros": .integer(micros), "cost_source": "reported",
        ]
        let row = StampCoverage.Row(table: .costEvents, id: id, values: values.merging(["run_id": .integer(run)]) { $1 })
        values["event_type"] = "cost_event"
        values["run_id"] = .integer(run)
        return (row, values)
    }

    func problems(_ rows: [StampCoverage.Row], _ stamps: [JSONObject], chainBreaks: Set<Int64> = []) throws -> [DetectedBreak] {
        StampCoverage(rows: rows, events: try chain(stamps)).problems(besides: chainBreaks)
    }

    @Test func rowsThatMatchTheirStampsHaveNoProblems() throws {
        let (t1, s1) = transition(1, from: nil, to: "queued")
        // Stored with milliseconds that round up into the next second; stamped with the second it happened in.
        let (_, s2) = transition(2, ms: 999)
        var t2 = transition(2, ms: 999).0
        t2.values["at"] = .string(iso(second + 1))
        let (r1, s3) = run(1)
        let (c1, s4) = cost(1, run: 1)
        let (r2, _) = run(2, finished: false)
        // A stamp from an older Keel that did not record cost_source: what it does not record is not compared.
        let c2 = cost(2, run: 3).0
        var s5 = cost(2, run: 3).1
        s5["cost_source"] = nil
        let (r3, s6) = run(3, outcome: "failure", exitCode: nil)
        let checkpoint: JSONObject = ["event_type": "checkpoint", "size": 6]
        #expect(try problems([t1, t2, r1, c1, r2, c2, r3], [s1, s2, s3, s4, s6, s5, checkpoint]).isEmpty)
    }

    @Test func aTransitionWithoutItsStampIsAMissingStampNamingTheRow() throws {
        let (t1, s1) = transition(1, from: nil, to: "queued")
        let (t2, _) = transition(2, item: 7, to: "merged")
        let found = try problems([t1, t2], [s1])
        #expect(found.count == 1)
        let b = try #require(found.first)
        #expect(b.kind == "missing_stamp" && b.seq == nil && b.found == "none")
        #expect(b.message.contains("state_transitions row 2") && b.message.contains("item 7: queued → merged"), "\(b.message)")
        // Found again it is the same break; an edit of the row makes it another.
        #expect(try problems([t1, t2], [s1]) == found)
        var edited = t2
        edited.values["to_state"] = "failed"
        #expect(try problems([t1, edited], [s1]).first?.evidence != b.evidence)
    }

    @Test func aStampMissingWhereTheChainIsBrokenJoinsThatBreak() throws {
        let (t1, s1) = transition(1, from: nil, to: "queued")
        let (t2, _) = transition(2)
        let (t3, s3) = transition(3, to: "pushed")
        // The stamp of row 2 was event 2, deleted: the chain verifier reports its gap at seq 3.
        let events = try chain([s1, ["event_type": "other"], s3]).filter { $0.seq != 2 }
        let found = StampCoverage(rows: [t1, t2, t3], events: events).problems(besides: [3, 9])
        #expect(found.map(\.kind) == ["missing_stamp"] && found.first?.seq == 3)
        // A break elsewhere in the chain is not where the stamp belonged.
        #expect(StampCoverage(rows: [t1, t2, t3], events: events).problems(besides: [9]).first?.seq == nil)
    }

    @Test func aStampWithoutItsRowIsAMissingRowAtTheStamp() throws {
        let (t1, s1) = transition(1, from: nil, to: "queued")
        let (_, s2) = transition(2, to: "merged")
        let (_, s3) = cost(4, run: 9)
        let found = try problems([t1], [s1, s2, s3])
        #expect(found.map(\.kind) == ["missing_row", "missing_row"])
        #expect(found.map(\.seq) == [2, 3])
        #expect(found[0].message.contains("state_transitions row 2") && found[0].message.contains("queued → merged"), "\(found[0].message)")
        #expect(found[1].expected == "a cost_events row for run 9")
    }

    @Test func anEditedValueIsARowMismatchNamingTheColumnAndBothValues() throws {
        let (t1, s1) = transition(1, to: "needs_human", reason: "budget exhausted")
        var edited = t1
        edited.values["to_state"] = "done"
        let (c1, s2) = cost(1, run: 1)
        let cheaper = StampCoverage.Row(table: .costEvents, id: c1.id, values: c1.values.merging(["cost_micros": 1, "input_tokens": 5]) { $1 })
        let found = try problems([edited, cheaper], [s1, s2])
        #expect(found.map(\.kind) == ["row_mismatch", "row_mismatch"])
        #expect(found[0].seq == 1 && found[0].expected == #"to_state="needs_human""# && found[0].found == #"to_state="done""#)
        #expect(found[0].message.contains("state_transitions row 1") && found[0].message.contains("to_state"))
        #expect(found[1].seq == 2 && found[1].found == "input_tokens=5; cost_micros=1" && found[1].expected == "input_tokens=190; cost_micros=3333")
        #expect(found[1].message.contains("cost_events row 1"))
    }

    @Test func aRunsOutcomeAndExitCodeAreCompared() throws {
        let (r1, s1) = run(1, outcome: "failure", exitCode: 2)
        var edited = r1
        edited.values["outcome"] = "success"
        edited.values["exit_code"] = 0
        let found = try problems([edited], [s1])
        #expect(found.count == 1 && found[0].kind == "row_mismatch" && found[0].found == #"outcome="success"; exit_code=0"#)
    }

    @Test func aFinishedRunStampedButUnfinishedInTheTableIsAMismatch() throws {
        let (_, s1) = run(1)
        let (unfinished, _) = run(1, finished: false)
        let found = try problems([unfinished], [s1])
        #expect(found.map(\.kind) == ["row_mismatch"])
        #expect(found[0].found.contains("ended_at=null"))
    }

    @Test func aRowIsMatchedByItsStampsTextNotByAnyColumn() throws {
        let (t1, s1) = transition(1)
        // The same payload under another event_type is not a stamp of the row.
        var relabelled = s1
        relabelled["event_type"] = "human_decision"
        #expect(try problems([t1], [relabelled]).map(\.kind) == ["missing_stamp"])
        // An unreadable text is nobody's stamp (the chain verifier reports it).
        let events = try chain([s1]) + [(seq: 2, text: "{\"payload\":")]
        #expect(StampCoverage(rows: [t1], events: events).problems(besides: []).isEmpty)
    }

    @Test func stampsRestoredFromABackupNeedNoRowButEveryRowNeedsItsStamp() throws {
        // The old database's transitions 1 and 2, restored from the backup into a new one that numbers from 1 again.
        let (_, old1) = transition(1, from: nil, to: "queued")
        let (_, old2) = transition(2, to: "merged")
        let restored: JSONObject = ["event_type": "ledger_restored", "events": 2]
        let (new1, s1) = transition(1, item: 9, from: nil, to: "queued")
        let (new2, _) = transition(2, item: 9)
        #expect(try problems([new1], [old1, old2, restored, s1]).isEmpty)
        // A new row without its stamp is not covered by an old database's stamp of the same id.
        let found = try problems([new1, new2], [old1, old2, restored, s1])
        #expect(found.map(\.kind) == ["row_mismatch"] && found[0].seq == 2, "\(found.map(\.message))")
        // Without the signed restore, a stamp without its row is reported.
        #expect(try problems([], [old1]).map(\.kind) == ["missing_row"])
    }

    @Test func aSecondStampOfOneRowIsADuplicate() throws {
        let (t1, s1) = transition(1)
        let found = try problems([t1], [s1, s1])
        #expect(found.map(\.kind) == ["duplicate_stamp"] && found[0].seq == 2)
    }

    @Test func aSecondCostRowOfOneRunHasNoStamp() throws {
        let (c1, s1) = cost(1, run: 1)
        let (c2, _) = cost(2, run: 1)
        let found = try problems([c1, c2], [s1])
        #expect(found.map(\.kind) == ["missing_stamp"] && found[0].message.contains("cost_events row 2"))
    }
}
