import Foundation

/// The ledger's trust anchor: the public key its chain starts with, kept outside the database in
/// a file beside the signing key (`signing-key.json` → `signing-key.genesis.json`), as an
/// AISS-1.0 identity document (so `keel ledger verify --bundle X --public-key` accepts the file).
///
/// Someone who can write the database but not this file cannot make a re-signed chain verify:
/// every verification starts from this key, and a rotation counts only when the key trusted at
/// its point of the chain signed it. The file is written once, when the key is created (or, for a
/// ledger that predates it, when the current key is shown to have signed the first event), and is
/// never rewritten; rotations do not change it.
///
/// ```swift
/// let anchor = GenesisAnchor(keyPath: config.ledger.key)
/// let genesis = try anchor.load()          // nil when there is no file yet
/// try anchor.record(signer.key, createdAt: now)
/// ```
public struct GenesisAnchor: Sendable {
    /// The anchor file's path.
    public let path: String

    /// The anchor beside the key file at `keyPath`.
    public init(keyPath: String) {
        let base = keyPath.hasSuffix(".json") ? String(keyPath.dropLast(5)) : keyPath
        path = base + ".genesis.json"
    }

    /// The genesis key, or nil when the file does not exist.
    public func load() throws(LedgerError) -> AgentKey? {
        guard let data = FileManager.default.contents(atPath: path) else {
            guard !FileManager.default.fileExists(atPath: path) else { throw LedgerError(.io, "could not read the genesis file \(path)") }
            return nil
        }
        do {
            return try AgentKey(pinning: String(decoding: data, as: UTF8.self))
        } catch {
            throw LedgerError(
                .invalidKey,
                "the genesis file \(path) is not an identity document of an Ed25519 key (\(error.message)); restore it from backup, or pin the key with ledger.public_key in keel.yml",
                cause: error)
        }
    }

    /// Writes `key` as the genesis key if there is no file yet; an existing file is never
    /// replaced (a different key there is an error).
    public func record(_ key: AgentKey, createdAt: Int64) throws(LedgerError) {
        var contents = try IdentityDocument(key: key, createdAt: createdAt).encoded()
        contents.append(0x0A)
        if try KeyFile.createExclusively(path, contents: contents, mode: 0o644) { return }
        guard let existing = try load() else { throw LedgerError(.io, "the genesis file \(path) vanished while it was being written; retry") }
        guard existing == key else {
            throw LedgerError(.invalidKey, "the genesis file \(path) already names \(existing.agentID), not \(key.agentID)")
        }
    }
}
