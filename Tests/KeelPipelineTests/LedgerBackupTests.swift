import Foundation
import KeelGit
import KeelPipeline
import KeelTestSupport
import Testing

@Suite struct LedgerBackupTests {
    func events(_ range: ClosedRange<Int64>) -> [String] {
        range.map { #"{"payload":{"event_type":"test","seq":\#($0)},"version":"AISS-1.0"}"# }
    }

    func backup(_ tmp: TemporaryDirectory, remote: String, name: String = "work") -> LedgerBackup {
        LedgerBackup(remote: remote, workDirectory: tmp.path(name))
    }

    @Test func pushedEventsAndStateComeBackOnRestore() async throws {
        try await withTemporaryDirectory(prefix: "keel-backup") { tmp in
            let remote = tmp.path("backup.git")
            try await Git().initBare(at: remote)
            let all = events(1...10_003)
            let first = backup(tmp, remote: remote)
            let before = try await first.push(
                head: .init(size: 10_003, headHash: "h3"), breaks: Data(#"[{"id":1,"decision":"validate"}]"#.utf8),
                identity: Data(#"{"agent_id":"x"}"#.utf8)
            ) { after in Array(all[Int(after)...]) }
            #expect(before == nil)
            // Appending only sends what the backup lacks.
            let more = events(10_004...10_010)
            let seen = try await first.push(
                head: .init(size: 10_010, headHash: "h10"), breaks: Data("[]".utf8), identity: Data("{}".utf8)
            ) { after in
                #expect(after == 10_003)
                return more
            }
            #expect(seen == .init(size: 10_003, headHash: "h3"))

            // A cold start elsewhere, from an empty working copy.
            let snapshot = try await backup(tmp, remote: remote, name: "elsewhere").restore()
            #expect(snapshot.head == .init(size: 10_010, headHash: "h10"))
            #expect(snapshot.events == all + more)
            #expect(snapshot.breaks == Data("[]".utf8))
            let files = try await Git().run(["ls-tree", "-r", "--name-only", "keel-ledger"], in: remote)
            #expect(files.contains("ledger/events/00000001.jsonl") && files.contains("ledger/events/00000002.jsonl"))
        }
    }

    @Test func aBackupAheadOfTheStoreIsRefusedAndReported() async throws {
        try await withTemporaryDirectory(prefix: "keel-backup") { tmp in
            let remote = tmp.path("backup.git")
            try await Git().initBare(at: remote)
            let all = events(1...20)
            let b = backup(tmp, remote: remote)
            try await b.push(head: .init(size: 20, headHash: "h20"), breaks: Data(), identity: Data()) { Array(all[Int($0)...]) }
            do {
                try await b.push(head: .init(size: 12, headHash: "h12"), breaks: Data(), identity: Data()) { Array(all[Int($0)..<12]) }
                Issue.record("a rolled-back store overwrote its backup")
            } catch let error as LedgerBackupError {
                #expect(error.code == .ahead)
                #expect(error.backup?.size == 20)
            }
            #expect(try await b.fetchHead()?.size == 20)
        }
    }

    @Test func aStoreCutShortThatWentOnIsNotAppendedToItsBackup() async throws {
        try await withTemporaryDirectory(prefix: "keel-backup") { tmp in
            let remote = tmp.path("backup.git")
            try await Git().initBare(at: remote)
            func linked(_ range: ClosedRange<Int64>, branch: String) -> [String] {
                range.map { #"{"payload":{"event_type":"test","seq":\#($0)},"previous_hash":"\#(branch)\#($0 - 1)","version":"AISS-1.0"}"# }
            }
            let b = backup(tmp, remote: remote)
            let original = linked(1...20, branch: "h")
            try await b.push(head: .init(size: 20, headHash: "h20"), breaks: Data(), identity: Data()) { Array(original[Int($0)...]) }
            // Cut to 17 events, then 5 new ones: as long as the backup again, but 18 on are others.
            let store = Array(original[..<17]) + linked(18...22, branch: "x")
            do {
                try await b.push(head: .init(size: 22, headHash: "x22"), breaks: Data(), identity: Data()) { Array(store[Int($0)...]) }
                Issue.record("a store cut short and gone on was appended to its backup")
            } catch let error as LedgerBackupError {
                #expect(error.code == .ahead && error.backup?.size == 20)
            }
            #expect(try await b.fetchHead()?.size == 20)
            // A store that goes on from the backup's head is appended.
            let goesOn = original + linked(21...22, branch: "h")
            try await b.push(head: .init(size: 22, headHash: "h22"), breaks: Data(), identity: Data()) { Array(goesOn[Int($0)...]) }
            #expect(try await backup(tmp, remote: remote, name: "c").restore().events == goesOn)
        }
    }

    @Test func twoWritersTakeTurnsWithoutLosingEvents() async throws {
        try await withTemporaryDirectory(prefix: "keel-backup") { tmp in
            let remote = tmp.path("backup.git")
            try await Git().initBare(at: remote)
            let all = events(1...30)
            let a = backup(tmp, remote: remote, name: "a")
            let b = backup(tmp, remote: remote, name: "b")
            try await a.push(head: .init(size: 10, headHash: "h10"), breaks: Data(), identity: Data()) { Array(all[Int($0)..<10]) }
            try await b.push(head: .init(size: 20, headHash: "h20"), breaks: Data(), identity: Data()) { Array(all[Int($0)..<20]) }
            try await a.push(head: .init(size: 30, headHash: "h30"), breaks: Data(), identity: Data()) { Array(all[Int($0)..<30]) }
            #expect(try await backup(tmp, remote: remote, name: "c").restore().events == all)
        }
    }
}
