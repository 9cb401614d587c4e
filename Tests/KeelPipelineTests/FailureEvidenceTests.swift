import Foundation
import KeelCore
import KeelPipeline
import Testing

@Suite struct FailureEvidenceTests {
    func entry(_ kind: String, _ detail: String = "", signature: String? = nil, attempt: Int = 1) -> HistoryEntry {
        HistoryEntry(
            id: 0, itemID: 1, attempt: attempt, stage: "ci", kind: kind, signature: signature, summary: "\(kind) summary", detail: detail,
            at: Date(timeIntervalSince1970: 1_800_000_000))
    }

    @Test func evidenceKeepsTheLastLinesAndSaysHowManyWereLeftOut() {
        let output = (1...100).map { "line \($0)" }.joined(separator: "\n")
        let tail = ItemDetail.Failure.tail(output)
        let lines = tail.split(separator: "\n")
        #expect(lines.first == "… (60 earlier lines left out)")
        #expect(lines.count == ItemDetail.Failure.maxLines + 1)
        #expect(lines.last == "line 100")
    }

    @Test func evidenceStaysWithinItsByteBoundEvenForOneLongLine() {
        let long = String(repeating: "x", count: 20_000) + "END"
        let tail = ItemDetail.Failure.tail(long)
        #expect(tail.utf8.count <= ItemDetail.Failure.maxBytes)
        #expect(tail.hasSuffix("END"))
        let many = (1...30).map { _ in String(repeating: "y", count: 500) }.joined(separator: "\n")
        #expect(ItemDetail.Failure.tail(many).utf8.count <= ItemDetail.Failure.maxBytes + 64)
        #expect(ItemDetail.Failure.tail("  \n") == "")
    }

    @Test func theLatestFailureSinceAPersonsDecisionIsShown() {
        let failed = [entry("attempt"), entry("failure", "FAIL first", signature: "a"), entry("failure", "FAIL second", signature: "b", attempt: 2)]
        let latest = ItemDetail.Failure.latest(in: failed)
        #expect(latest?.evidence == "FAIL second" && latest?.signature == "b" && latest?.attempt == 2)
        // After `keel retry` the old failure is no longer why the item stands where it is.
        #expect(ItemDetail.Failure.latest(in: failed + [entry("human_retry")]) == nil)
    }
}
