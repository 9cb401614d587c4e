public import KeelLedger

/// Which key the ledger's chain starts with, decided before anything signs: from what is kept
/// outside the database (the genesis file beside the key, `ledger.public_key` in keel.yml), never
/// from the database alone. A pure decision; ``LedgerSetup`` reads the files and performs it.
///
/// ```swift
/// switch LedgerAnchoring.decide(pinned: nil, recorded: nil, signer: key, events: 0, firstEvent: nil) {
/// case .use(let genesis, let record): ...   // record: write the genesis file
/// case .refuse(let line): print(line)
/// }
/// ```
public enum LedgerAnchoring {
    /// What to do.
    public enum Decision: Sendable, Equatable {
        /// Start every verification from `genesis`; `record` means write it to the genesis file.
        case use(genesis: AgentKey, record: Bool)
        /// Do not open the ledger; one line for a person.
        case refuse(String)
    }

    /// Where the anchor comes from, for the messages.
    public struct Paths: Sendable, Equatable {
        public var key: String
        public var genesis: String

        public init(key: String, genesis: String) {
            self.key = key
            self.genesis = genesis
        }
    }

    /// The decision. `pinned` is `ledger.public_key`, `recorded` the genesis file's key, `signer`
    /// the signing key (nil when its file is missing), `events` and `firstEvent` what the store's
    /// ledger holds.
    public static func decide(
        pinned: AgentKey?, recorded: AgentKey?, signer: AgentKey?, events: Int64, firstEvent: String?, paths: Paths
    ) -> Decision {
        if let pinned, let recorded, pinned != recorded {
            return .refuse(
                "keel.yml's ledger.public_key (\(pinned.agentID)) is not the genesis key in \(paths.genesis) (\(recorded.agentID)): "
                    + "one of them was changed; restore the right one (the key the ledger's first event is signed by)")
        }
        guard let signer else {
            guard events > 0 else { return .refuse("there is no signing key at \(paths.key)") }
            return .refuse(
                "the ledger holds \(events) events but its signing key \(paths.key) is missing: Keel does not make a new key for a ledger "
                    + "that has one (every event after it would be a break). Restore the key file from your backup"
                    + ((recorded ?? pinned).map { " (its chain starts with \($0.agentID))" } ?? "")
                    + "; to change keys on purpose, restore it and run `keel ledger rotate-key`, which hands over under the old key's signature")
        }
        if let anchor = pinned ?? recorded {
            if events == 0, anchor != signer {
                return .refuse(
                    "the ledger is empty but its genesis key is \(anchor.agentID), not the signing key \(paths.key) (\(signer.agentID)): "
                        + "put back the key that \(paths.genesis) or ledger.public_key names, or remove them to start a new ledger with this key")
            }
            return .use(genesis: anchor, record: recorded == nil)
        }
        guard events > 0 else { return .use(genesis: signer, record: true) }
        // A ledger written before the genesis file existed: its first event says which key started
        // it, and only the key holder could have signed it. Anything else needs a person.
        if let text = firstEvent, let first = try? Stamp.parse(text), first.previousHash == signer.genesisHash, first.agentID == signer.agentID,
            first.isSigned(by: signer)
        {
            return .use(genesis: signer, record: true)
        }
        return .refuse(
            "there is no genesis file \(paths.genesis) and the ledger's first event is not signed by the signing key \(signer.agentID) "
                + "(the key was rotated, or the chain was rewritten): pin the key the chain started with as ledger.public_key in keel.yml "
                + "(an earlier export's agent_identity.public_key, or `keel ledger identity` before the rotation)")
    }
}
