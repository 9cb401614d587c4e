import KeelCore
import Testing

@Suite struct BaseRaceTests {
    // What git 2.x printed in the field (issue 9, section 7) and in Keel's own runs.
    static let refLocked = """
        !\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)
        remote: error: cannot lock ref 'refs/heads/main': is at 5b952284ec9681f1a50637089813c9e3a89da5d9 but expected 8cd2c74920db1fda5bb4c1eded9d7219f0f4c3d9
        error: failed to push some refs to '/srv/origin.git'
        """
    static let fetchFirst = "!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nerror: failed to push some refs to 'origin'"
    static let nonFastForward = "!\trefs/heads/main:refs/heads/main\t[rejected] (non-fast-forward)"
    static let staleLease = "!\tHEAD:refs/heads/keel/item-1\t[rejected] (stale info)"
    static let hookDeclined = "!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)"

    @Test func refusedPushesAreReadAsTheRaceOrRefusalTheyAre() {
        #expect(PushRefusal(gitOutput: Self.refLocked) == .busy)
        #expect(PushRefusal(gitOutput: "fatal: cannot lock ref 'refs/heads/main': Unable to create '/o.git/refs/heads/main.lock': File exists.") == .busy)
        #expect(PushRefusal(gitOutput: Self.fetchFirst) == .moved)
        #expect(PushRefusal(gitOutput: Self.nonFastForward) == .moved)
        #expect(PushRefusal(gitOutput: Self.staleLease) == .stale)
        #expect(PushRefusal(gitOutput: Self.hookDeclined) == .declined)
        #expect(PushRefusal(gitOutput: "fatal: could not read from remote repository") == nil)
    }

    @Test func aLostRaceIsRedoneOnTheNewBaseThenMarshalledAgainNeverDevelopedAgain() {
        let race = BaseRace(redoLimit: 2, marshalTries: 3)
        for refusal in [PushRefusal.busy, .moved] {
            #expect(race.action(for: refusal, redone: 0) == .redoOnNewBase)
            #expect(race.action(for: refusal, redone: 1) == .redoOnNewBase)
            #expect(race.action(for: refusal, redone: 2) == .marshalAgain)
        }
    }

    @Test func aDeclinedOrStalePushIsNotARace() {
        let race = BaseRace()
        #expect(race.action(for: .declined, redone: 0) == .notARace)
        #expect(race.action(for: .stale, redone: 0) == .notARace)
        #expect(race.action(for: nil, redone: 0) == .notARace)
    }
}

@Suite struct BranchPushTests {
    @Test func onlyARecordedTipOrAFastForwardIsReplacedAndAForeignTipIsNamed() {
        let recorded: Set<String> = ["p1", "p2"]
        #expect(BranchPush.decide(tip: nil, head: "n", recorded: recorded, tipIsAncestorOfHead: false) == .push(expecting: ""))
        #expect(BranchPush.decide(tip: "n", head: "n", recorded: recorded, tipIsAncestorOfHead: true) == .upToDate)
        #expect(BranchPush.decide(tip: "p1", head: "n", recorded: recorded, tipIsAncestorOfHead: false) == .push(expecting: "p1"))
        #expect(BranchPush.decide(tip: "x", head: "n", recorded: recorded, tipIsAncestorOfHead: true) == .push(expecting: "x"))
        #expect(BranchPush.decide(tip: "x", head: "n", recorded: recorded, tipIsAncestorOfHead: false) == .foreign(tip: "x"))
    }
}
