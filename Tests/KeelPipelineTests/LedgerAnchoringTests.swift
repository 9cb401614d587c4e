import Foundation
import KeelLedger
import KeelPipeline
import Testing

/// Which key the chain starts with, decided from what lives outside the database.
@Suite struct LedgerAnchoringTests {
    let key = SigningIdentity.generate(createdAt: 1_790_000_000)
    let other = SigningIdentity.generate(createdAt: 1_790_000_000)
    let paths = LedgerAnchoring.Paths(key: "/p/signing-key.json", genesis: "/p/signing-key.genesis.json")

    func decide(pinned: AgentKey? = nil, recorded: AgentKey? = nil, signer: AgentKey?, events: Int64 = 0, first: String? = nil) -> LedgerAnchoring.Decision {
        LedgerAnchoring.decide(pinned: pinned, recorded: recorded, signer: signer, events: events, firstEvent: first, paths: paths)
    }

    @Test func aNewLedgerIsAnchoredAtItsNewKey() {
        #expect(decide(signer: key.key) == .use(genesis: key.key, record: true))
        #expect(decide(recorded: key.key, signer: key.key, events: 40) == .use(genesis: key.key, record: false))
    }

    @Test func aLostKeyIsRefusedNamingTheKeyToRestore() {
        guard case .refuse(let line) = decide(recorded: key.key, signer: nil, events: 48) else {
            Issue.record("a lost key was not refused")
            return
        }
        #expect(line.contains("missing") && line.contains(key.agentID) && line.contains("rotate-key"))
    }

    @Test func aPinThatDisagreesWithTheGenesisFileIsRefused() {
        guard case .refuse(let line) = decide(pinned: other.key, recorded: key.key, signer: key.key, events: 3) else {
            Issue.record("a disagreeing pin was accepted")
            return
        }
        #expect(line.contains("ledger.public_key"))
        #expect(decide(pinned: key.key, signer: key.key, events: 3) == .use(genesis: key.key, record: true))
    }

    @Test func anOlderLedgerIsAnchoredOnlyWhenItsFirstEventIsTheKeyHoldersOwn() throws {
        let mine = try Stamper.stampGenesis(payload: ["event_type": "x", "seq": 1], signer: key, timestamp: 1_790_000_000, nonce: UUID())
        #expect(decide(signer: key.key, events: 9, first: mine.text) == .use(genesis: key.key, record: true))
        let theirs = try Stamper.stampGenesis(payload: ["event_type": "x", "seq": 1], signer: other, timestamp: 1_790_000_000, nonce: UUID())
        guard case .refuse(let line) = decide(signer: key.key, events: 9, first: theirs.text) else {
            Issue.record("a chain another key started was anchored at this key")
            return
        }
        #expect(line.contains("ledger.public_key"))
    }
}
