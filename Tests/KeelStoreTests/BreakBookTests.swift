import Foundation
import KeelCore
import KeelLedger
import KeelStore
import Testing

/// The pure decisions behind the ledger's trust: break state from stamps, and columns against texts.
@Suite struct BreakBookTests {
    let signer = SigningIdentity.generate(createdAt: 1_790_000_000)

    /// A chain of stamps with these payloads (event_type first), seq 1, 2, ... one second apart.
    func chain(_ payloads: [JSONObject], from start: Int64 = 1_790_000_000) throws -> [(seq: Int64, stamp: Stamp)] {
        var previous = signer.key.genesisHash
        return try payloads.enumerated().map { index, fields in
            var payload = fields
            payload["seq"] = .integer(Int64(index + 1))
            let stamp = try Stamper.stamp(payload: payload, previousHash: previous, signer: signer, timestamp: start + Int64(index), nonce: UUID())
            previous = stamp.hash
            return (Int64(index + 1), stamp)
        }
    }

    func detected(_ id: Int64, deadline: Int64 = 1_790_000_100) -> JSONObject {
        [
            "event_type": "chain_break_detected", "break_id": .integer(id), "kind": "bad_signature", "expected": "e", "found": "f",
            "message": "m", "deadline": .integer(deadline), "at_seq": 3,
        ]
    }

    func resolution(_ id: Int64, _ decision: String, by person: String = "ann") -> JSONObject {
        ["event_type": "chain_break_resolution", "break_id": .integer(id), "decision": .string(decision), "decided_by": .string(person)]
    }

    func timeout(_ id: Int64) -> JSONObject { ["event_type": "timeout_no_action", "break_id": .integer(id)] }

    @Test func aBreakIsWhatItsStampsSay() throws {
        let book = BreakBook(stamps: try chain([detected(1), resolution(1, "validate")]))
        let b = try #require(book.breaks[1])
        #expect(b.decision == "validate" && b.decidedBy == "ann" && b.detectionSeq == 1 && b.resolutionSeq == 2)
        #expect(b.deadline == Date(timeIntervalSince1970: 1_790_000_100))
        #expect(book.problems.isEmpty && book.status(now: Date(timeIntervalSince1970: 1_790_000_050)) == .valid)
    }

    @Test func aSecondDecisionIsABreakAndTheFirstStands() throws {
        let book = BreakBook(stamps: try chain([detected(1), resolution(1, "validate"), resolution(1, "reject", by: "mallory")]))
        #expect(book.breaks[1]?.decision == "validate")
        #expect(book.problems.map(\.kind) == ["duplicate_decision"] && book.problems.first?.seq == 3)
    }

    @Test func aDecisionOrTimeoutOnABreakNoStampNamesIsABreak() throws {
        let book = BreakBook(stamps: try chain([resolution(7, "validate"), timeout(8)]))
        #expect(book.breaks.isEmpty)
        #expect(book.problems.map(\.kind) == ["orphan_decision", "orphan_decision"])
    }

    @Test func timeoutsCountOnceOnlyAfterTheDeadlineAndNotAfterADecision() throws {
        // The chain's stamps are one second apart from 1_790_000_000: a deadline of +1 s has passed at seq 3.
        let twice = BreakBook(stamps: try chain([detected(1, deadline: 1_790_000_001), timeout(1), timeout(1)]))
        #expect(twice.breaks[1]?.timeoutSeq == 2 && twice.problems.map(\.kind) == ["duplicate_timeout"])
        let early = BreakBook(stamps: try chain([detected(1), timeout(1)]))
        #expect(early.breaks[1]?.timeoutSeq == nil && early.problems.map(\.kind) == ["premature_timeout"])
        let decided = BreakBook(stamps: try chain([detected(1, deadline: 1_790_000_001), resolution(1, "ignore"), timeout(1)]))
        #expect(decided.problems.map(\.kind) == ["duplicate_timeout"])
    }

    @Test func aTimedOutBreakStaysBrokenDeclaredWhateverIsDecidedLater() throws {
        let book = BreakBook(stamps: try chain([detected(1, deadline: 1_790_000_001), timeout(1), resolution(1, "validate")]))
        #expect(book.breaks[1]?.decision == "validate")
        #expect(book.status(now: Date(timeIntervalSince1970: 1_790_000_010)) == .brokenDeclared)
    }

    @Test func rowsThatSayWhatNoStampSaysAreBreaks() throws {
        let book = BreakBook(stamps: try chain([detected(1)]))
        var row = try #require(book.breaks[1])
        #expect(book.cacheProblems([row]).isEmpty)
        row.decision = "validate"
        row.decidedBy = "ann"
        row.deadline = Date(timeIntervalSince1970: 32_503_680_000)
        let edited = book.cacheProblems([row])
        #expect(edited.count == 1 && edited[0].kind == "break_record_mismatch")
        #expect(edited[0].message.contains("decision validate") && edited[0].message.contains("deadline"))
        var forged = row
        forged.id = 2
        #expect(book.cacheProblems([try #require(book.breaks[1]), forged]).map(\.expected) == ["break #2: no stamp"])
        #expect(book.cacheProblems([]).map(\.found) == ["row #1: missing"])
        // The same mismatch found twice is the same break.
        #expect(book.cacheProblems([row]) == edited)
    }

    @Test func everyColumnIsCheckedAgainstTheText() throws {
        let stamp = try #require(try chain([["event_type": "state_transition", "item_id": 2, "to_state": "queued"]]).first?.stamp)
        let row = LedgerEventRecord(
            seq: 1, event: stamp.text, hash: stamp.hash, kind: "state_transition", subject: "item:2", at: LedgerRowCheck.at(stamp))
        #expect(LedgerRowCheck.problems(row).isEmpty)
        var edited = row
        edited.subject = "item:3"
        edited.kind = "checkpoint"
        edited.at = Date(timeIntervalSince1970: 1)
        edited.seq = 2
        let columns = LedgerRowCheck.problems(edited).map(\.expected)
        #expect(columns == ["seq = 1", "kind = state_transition", "subject = item:2", "at = \(Timestamp.text(LedgerRowCheck.at(stamp)))"])
        var spaced = row
        spaced.event = stamp.text.replacingOccurrences(of: "\",\"", with: "\", \"")
        #expect(LedgerRowCheck.problems(spaced).map(\.kind) == ["noncanonical_text"])
        var rehashed = row
        rehashed.hash = String(repeating: "0", count: 64)
        #expect(LedgerRowCheck.problems(rehashed).map(\.kind) == ["hash_mismatch"])
    }
}
