import KeelPipeline
import Testing

/// When a missing store may be created: decided from what is on disk and at the origin, no I/O.
@Suite struct StoreOpeningTests {
    let paths = StoreOpening.Paths(store: "/srv/app/.keel/keel.sqlite", key: "/srv/app/.keel/ledger/signing-key.json", origin: "/srv/origin.git")
    let noHistory = StoreOpening.History(keySigningSince: nil, itemBranches: [])

    func refusal(_ access: StoreAccess, _ history: StoreOpening.History?) -> String? {
        if case .refuse(let line) = StoreOpening.decide(access: access, storeExists: false, history: history, paths: paths) { return line }
        return nil
    }

    @Test func anExistingStoreIsOpenedForEveryCommand() {
        for access in [StoreAccess.existing, .create(newStore: false), .create(newStore: true)] {
            #expect(StoreOpening.decide(access: access, storeExists: true, history: nil, paths: paths) == .open)
            #expect(!StoreOpening.needsHistory(access: access, storeExists: true))
        }
    }

    @Test func aReadingCommandNeverCreatesAStoreAndSaysWhereItLooked() throws {
        let line = try #require(refusal(.existing, nil))
        #expect(line.contains("no Keel database at /srv/app/.keel/keel.sqlite") && !line.contains("\n"))
        #expect(!StoreOpening.needsHistory(access: .existing, storeExists: false))
    }

    @Test func aFreshProjectGetsItsFirstStore() {
        #expect(StoreOpening.needsHistory(access: .create(newStore: false), storeExists: false))
        #expect(refusal(.create(newStore: false), noHistory) == nil)
    }

    @Test func aKeyThatSignedBeforeOrItemBranchesOnTheOriginRefuseANewStore() throws {
        let signed = try #require(refusal(.create(newStore: false), .init(keySigningSince: 1_796_000_000, itemBranches: [])))
        #expect(signed.contains("the signing key /srv/app/.keel/ledger/signing-key.json has signed a ledger since 2026-"), "\(signed)")
        #expect(signed.contains("--new-store") && signed.contains("database file back") && !signed.contains("origin"), "\(signed)")

        let branches = ["keel/item-1", "keel/item-2", "keel/item-6", "keel/item-6-v2", "keel/item-9"]
        let pushed = try #require(refusal(.create(newStore: false), .init(keySigningSince: nil, itemBranches: branches)))
        #expect(pushed.contains("the origin /srv/origin.git has keel/item-1, keel/item-2, keel/item-6 and 2 more"), "\(pushed)")
        #expect(!pushed.contains("signing key") && !pushed.contains("\n"))

        let unknown = try #require(refusal(.create(newStore: false), .init(keySigningSince: nil, itemBranches: nil, originProblem: "not a git repository")))
        #expect(unknown.contains("could not be listed") && unknown.contains("not a git repository"), "\(unknown)")
    }

    @Test func newStoreStartsOverOnPurposeWhateverTheHistory() {
        #expect(!StoreOpening.needsHistory(access: .create(newStore: true), storeExists: false))
        let history = StoreOpening.History(keySigningSince: 1_796_000_000, itemBranches: ["keel/item-6"])
        #expect(StoreOpening.decide(access: .create(newStore: true), storeExists: false, history: history, paths: paths) == .open)
    }
}
