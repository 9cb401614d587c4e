import Foundation
import KeelCore
import Testing

@Suite struct CIGateTests {
    let opened = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func aDeclaredCheckThatHasNotRegisteredIsWaitedFor() {
        let gate = CIGate(declared: ["test"], deadline: 1800)
        let early = [ObservedCheck(name: "lint", state: .success), ObservedCheck(name: "format-check", state: .success)]
        #expect(gate.decide(observed: early, since: opened, now: opened.addingTimeInterval(5)) == .waiting(missing: ["test"], pending: []))
        let late = early + [ObservedCheck(name: "test", state: .failure)]
        #expect(gate.decide(observed: late, since: opened, now: opened.addingTimeInterval(480)) == .failed(checks: ["test"]))
    }

    @Test func theObservedSnapshotAloneMergesTooEarly() {
        // Incident 3 with the rule switched off: what wait_ci did before the fix.
        let naive = CIGate(declared: ["test"], deadline: 1800, includesDeclared: false)
        let early = [ObservedCheck(name: "lint", state: .success)]
        #expect(naive.decide(observed: early, since: opened, now: opened.addingTimeInterval(5)) == .passed(required: ["lint"]))
    }

    @Test func everyRequiredCheckMustPass() {
        let gate = CIGate(declared: ["test", "lint"], deadline: 1800)
        let all = [ObservedCheck(name: "lint", state: .success), ObservedCheck(name: "test", state: .success), ObservedCheck(name: "extra", state: .success)]
        #expect(gate.decide(observed: all, since: opened, now: opened) == .passed(required: ["extra", "lint", "test"]))
        let pending = [ObservedCheck(name: "lint", state: .success), ObservedCheck(name: "test", state: .pending)]
        #expect(gate.decide(observed: pending, since: opened, now: opened) == .waiting(missing: [], pending: ["test"]))
    }

    @Test func aMissingCheckIsNeverPassedEvenAtTheDeadline() {
        let gate = CIGate(declared: ["test"], deadline: 1800)
        #expect(gate.decide(observed: [], since: opened, now: opened.addingTimeInterval(1800)) == .timedOut(missing: ["test"], pending: []))
    }

    @Test func aReRunReplacesAnEarlierFailure() {
        let gate = CIGate(declared: ["test"], deadline: 1800)
        let rerun = [ObservedCheck(name: "test", state: .failure), ObservedCheck(name: "test", state: .success)]
        #expect(gate.decide(observed: rerun, since: opened, now: opened) == .passed(required: ["test"]))
    }
}
