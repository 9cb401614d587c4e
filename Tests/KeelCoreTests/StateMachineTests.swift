import Foundation
import KeelCore
import Testing

@Suite struct StateMachineTests {
    @Test func happyPathReachesMerged() throws {
        var state = ItemState.queued
        for outcome: Outcome in [.claimed, .developed, .pushed, .checksPassed, .inspectionPassed, .mergeCompleted] {
            state = try StateMachine.next(from: state, on: outcome)
        }
        #expect(state == .merged)
    }

    @Test func failedChecksGoBackToTheQueue() throws {
        #expect(try StateMachine.next(from: .awaitingCI, on: .checksFailed) == .queued)
        #expect(try StateMachine.next(from: .merging, on: .mergeConflict) == .queued)
    }

    @Test func fromEveryStateButCancelledSomeSequenceOfOutcomesReachesMerged() {
        // What `next` allows, explored: no state is a dead end that only a database edit could leave.
        for start in ItemState.allCases where start != .cancelled {
            var seen: Set<ItemState> = [start]
            var frontier = [start]
            while let state = frontier.popLast() {
                for outcome in Outcome.allCases {
                    if let next = try? StateMachine.next(from: state, on: outcome), seen.insert(next).inserted {
                        frontier.append(next)
                    }
                }
            }
            #expect(seen.contains(.merged), "\(start) can never reach merged")
        }
    }

    @Test func terminalStatesHaveNoWayOut() {
        for outcome in Outcome.allCases {
            #expect(throws: CoreError.self) { try StateMachine.next(from: .merged, on: outcome) }
            #expect(throws: CoreError.self) { try StateMachine.next(from: .cancelled, on: outcome) }
        }
    }

    @Test func illegalTransitionNamesStateAndOutcome() {
        do {
            _ = try StateMachine.next(from: .queued, on: .mergeCompleted)
            Issue.record("queued on merge_completed was accepted")
        } catch {
            #expect(error.code == .illegalTransition)
            #expect(error.message.contains("queued") && error.message.contains("merge_completed"))
        }
    }

    @Test func onlyPeopleBringAnItemBackFromNeedsHuman() throws {
        #expect(try StateMachine.next(from: .needsHuman, on: .humanRetry) == .queued)
        #expect(throws: CoreError.self) { try StateMachine.next(from: .needsHuman, on: .claimed) }
        #expect(throws: CoreError.self) { try StateMachine.next(from: .needsHuman, on: .escalated) }
        #expect(throws: CoreError.self) { try StateMachine.next(from: .developing, on: .humanRetry) }
    }

    @Test func anyActiveStageCanBeInterruptedOrEscalated() throws {
        for state in ItemState.allCases where state.isActive {
            #expect(try StateMachine.next(from: state, on: .interrupted) == .queued)
            #expect(try StateMachine.next(from: state, on: .escalated) == .needsHuman)
            #expect(try StateMachine.next(from: state, on: .cancelRequested) == .cancelled)
        }
    }

    @Test func theAllowedEdgesAreExactlyTheTransitionsAndEachStateOutcomePairLeadsOnePlace() {
        var pairs = Set<String>()
        for edge in StateMachine.transitions {
            #expect(pairs.insert("\(edge.from)/\(edge.outcome.rawValue)").inserted, "\(edge) is listed twice")
            #expect((try? StateMachine.next(from: edge.from, on: edge.outcome)) == edge.to, "\(edge)")
        }
        for from in ItemState.allCases {
            let targets = Set(StateMachine.transitions.filter { $0.from == from }.map(\.to))
            #expect(StateMachine.allowed[from] == targets, "\(from): an edge no outcome reaches, or an outcome the table refuses")
            for to in ItemState.allCases {
                #expect(StateMachine.isAllowed(from: from, to: to) == targets.contains(to))
            }
        }
    }

    @Test func everyStateIsReachedFromTheQueueAndEveryOutcomeIsUsed() {
        var seen: Set<ItemState> = [.queued]
        var frontier: [ItemState] = [.queued]
        while let state = frontier.popLast() {
            for edge in StateMachine.transitions where edge.from == state && seen.insert(edge.to).inserted {
                frontier.append(edge.to)
            }
        }
        #expect(seen == Set(ItemState.allCases), "unreachable: \(Set(ItemState.allCases).subtracting(seen))")
        let used = Set(StateMachine.transitions.map(\.outcome))
        #expect(used == Set(Outcome.allCases), "never used: \(Set(Outcome.allCases).subtracting(used))")
    }

    @Test func whatAlreadyWaitsForAPersonIsNotEscalatedAgain() {
        #expect(throws: CoreError.self) { try StateMachine.next(from: .failed, on: .escalated) }
        #expect(throws: CoreError.self) { try StateMachine.next(from: .needsHuman, on: .escalated) }
        #expect((try? StateMachine.next(from: .blocked, on: .escalated)) == .needsHuman)
        #expect((try? StateMachine.next(from: .queued, on: .escalated)) == .needsHuman)
    }

    @Test func stateNamesAreTheStoredStrings() {
        #expect(ItemState.awaitingCI.rawValue == "awaiting_ci")
        #expect(ItemState.needsHuman.rawValue == "needs_human")
        #expect(ItemState.allCases.count == 12)
    }
}

@Suite struct PolicyTests {
    @Test func backoffGrowsAndIsCapped() {
        let b = Backoff(initialSeconds: 30, maxSeconds: 90, jitter: 0)
        #expect(b.delay(forFailure: 1, random: 0.7) == 30)
        #expect(b.delay(forFailure: 2, random: 0.7) == 60)
        #expect(b.delay(forFailure: 3, random: 0.7) == 90)
        #expect(b.delay(forFailure: 50, random: 0.7) == 90)
    }

    @Test func jitterOnlyShortensTheDelay() {
        let b = Backoff(initialSeconds: 30, maxSeconds: 90, jitter: 0.5)
        #expect(b.delay(forFailure: 1, random: 0) == 30)
        #expect(b.delay(forFailure: 1, random: 1) == 15)
    }

    @Test func breakerOpensOnTheNthFailureOfOneSignature() {
        let breaker = CircuitBreaker(threshold: 3)
        #expect(!breaker.opens(on: "timeout", after: []))
        #expect(!breaker.opens(on: "timeout", after: ["timeout", "ci"]))
        #expect(breaker.opens(on: "timeout", after: ["timeout", "ci", "timeout"]))
        #expect(breaker.count(of: "ci", after: ["timeout", "ci", "timeout"]) == 2)
    }

    @Test func moneyIsIntegerMicros() {
        #expect(Money.micros(fromUSD: 0.24722425) == 247_224)
        #expect(Money.micros(fromUSD: 0.0000005) == 1)
        #expect(Money.micros(fromUSD: -1) == 0)
        #expect(Money.format(247_224) == "$0.2472")
        #expect(Money.format(12_345_678) == "$12.35")
        #expect(Money.format(0) == "$0.0000")
        #expect(Money.format(1_999_999) == "$2.00")
    }
}

@Suite struct LedgerPolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func state(_ decision: BreakDecision?, deadlineIn seconds: TimeInterval = 3600, timedOut: Bool = false) -> BreakState {
        BreakState(id: 1, deadline: now.addingTimeInterval(seconds), decision: decision, timedOut: timedOut)
    }

    @Test func aChainWithoutBreaksIsValid() {
        #expect(LedgerPolicy.status(of: [], now: now) == .valid)
    }

    @Test func anUndecidedBreakIsPendingUntilItsDeadline() {
        #expect(LedgerPolicy.status(of: [state(nil)], now: now) == .breakPending)
        #expect(LedgerPolicy.status(of: [state(nil, deadlineIn: -1)], now: now) == .brokenDeclared)
        #expect(state(nil, deadlineIn: -1).needsTimeoutStamp(now: now))
        #expect(!state(nil, deadlineIn: -1, timedOut: true).needsTimeoutStamp(now: now))
        #expect(!state(.validate, deadlineIn: -1).needsTimeoutStamp(now: now))
    }

    @Test func onlyValidationClearsTheFlag() {
        #expect(LedgerPolicy.status(of: [state(.validate)], now: now) == .valid)
        #expect(LedgerPolicy.status(of: [state(.ignore)], now: now) == .brokenDeclared)
        #expect(LedgerPolicy.status(of: [state(.reject)], now: now) == .brokenDeclared)
        #expect(LedgerPolicy.status(of: [state(.validate), state(nil)], now: now) == .breakPending)
        #expect(LedgerPolicy.status(of: [state(.reject), state(nil)], now: now) == .brokenDeclared)
    }
}
