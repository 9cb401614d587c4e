import Foundation
import KeelLedger
import Testing

/// Which key may sign where: from the anchor and the rotations the trusted key signed, nothing else.
@Suite struct KeyScheduleTests {
    let genesis = SigningIdentity.generate(createdAt: 1_790_000_000)
    let next = SigningIdentity.generate(createdAt: 1_790_000_000)
    let forger = SigningIdentity.generate(createdAt: 1_790_000_000)

    func rotation(from old: SigningIdentity, to new: AgentKey, seq: Int64, signedBy signer: SigningIdentity? = nil) throws -> Stamp {
        try Stamper.stamp(
            payload: KeyRotation(previous: old.key, next: new, rotationTimestamp: 1_790_000_000).payload(seq: seq),
            previousHash: String(repeating: "a", count: 64), signer: signer ?? old, timestamp: 1_790_000_000, nonce: UUID())
    }

    @Test func aRotationSignedByTheTrustedKeyHandsOver() throws {
        let schedule = KeySchedule.build(genesis: genesis.key, rotations: [(5, try rotation(from: genesis, to: next.key, seq: 5))])
        #expect(schedule.key(at: 5) == genesis.key, "the rotation itself is signed by the old key")
        #expect(schedule.key(at: 6) == next.key && schedule.current == next.key)
        #expect(schedule.keys == [genesis.key, next.key])
    }

    @Test func aRotationByAnyOtherKeyCountsForNothing() throws {
        // The forger's own rotation to Keel's key, and one claiming to be from the genesis key but signed by the forger.
        let own = try rotation(from: forger, to: genesis.key, seq: 3)
        let claimed = try rotation(from: genesis, to: forger.key, seq: 4, signedBy: forger)
        let schedule = KeySchedule.build(genesis: genesis.key, rotations: [(3, own), (4, claimed)])
        #expect(schedule.handovers.isEmpty && schedule.current == genesis.key)
    }

    @Test func aRotationAtAnotherSeqThanItsOwnCountsForNothing() throws {
        let stamp = try rotation(from: genesis, to: next.key, seq: 5)
        #expect(KeySchedule.build(genesis: genesis.key, rotations: [(9, stamp)]).handovers.isEmpty)
    }
}
