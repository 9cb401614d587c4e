import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The private key file of a ledger's signing identity.
///
/// The file is canonical JSON: `{"algorithm":"Ed25519","created_at":…,"private_key":"<base64 of
/// the raw 32 bytes>","signing_since":…,"version":"AISS-1.0"}`. `signing_since` (Unix seconds) records
/// that the key was handed to a store to sign its ledger, before it signed anything: a missing
/// store whose key has signed before is lost history, not a fresh start. Key files written before
/// it existed have no `signing_since` and still load. It is created with mode 0600 from its first byte
/// (written under a temporary name opened with `O_CREAT|O_EXCL` and mode 0600, then linked into
/// place, so that it is never readable by others and never seen half-written), and a file that
/// group or others may read or write is refused.
///
/// Key rotation is two steps so that a crash between them loses nothing: ``prepareRotation(createdAt:)``
/// writes the next key beside the current one (`<path>.next`); the caller stamps the rotation
/// event (signed by the current key, see ``KeyRotation``); then ``commitRotation()`` moves the
/// next key into place. After a crash, calling ``prepareRotation(createdAt:)`` again returns the
/// same pending key.
///
/// ```swift
/// let file = KeyFile(path: "\(dataDir)/ledger.key")
/// let identity = try file.loadOrCreate(createdAt: clock.unixSeconds)
/// ```
public struct KeyFile: Sendable {
    /// The key file's path.
    public let path: String

    /// A key file at `path` (nothing is read or written yet).
    public init(path: String) {
        self.path = path
    }

    /// Where a prepared, not yet committed, rotation keeps the next key.
    public var pendingRotationPath: String { path + ".next" }

    /// Loads the key at ``path``, or creates one (and its parent directories, mode 0700) if
    /// there is no file yet. `createdAt` is recorded only when a key is created.
    public func loadOrCreate(createdAt: Int64) throws(LedgerError) -> SigningIdentity {
        if let existing = try loadIfPresent(path) { return existing }
        let identity = SigningIdentity.generate(createdAt: createdAt)
        if try create(path, with: identity) { return identity }
        // Another process created it first: use theirs.
        guard let winner = try loadIfPresent(path) else {
            throw LedgerError(.io, "the key file \(path) vanished while it was being created; retry")
        }
        return winner
    }

    /// Loads the key at ``path`` (creating it, as ``loadOrCreate(createdAt:)`` does) to sign a
    /// store's ledger, and records in the file that it signs from `now` on, before it signs
    /// anything. A key already recorded keeps its first date; an older key file without the
    /// record is rewritten with it (atomically, still 0600).
    public func loadForSigning(now: Int64) throws(LedgerError) -> SigningIdentity {
        if let existing = try loadContents(path) {
            if existing.signingSince == nil { try recordSigning(existing.identity, since: now) }
            return existing.identity
        }
        let identity = SigningIdentity.generate(createdAt: now)
        if try create(path, with: identity, signingSince: now) { return identity }
        return try loadForSigning(now: now)  // another process created it first: use theirs
    }

    /// When the key at ``path`` was first handed to a store to sign (nil when there is no key
    /// file, or its key has never signed). Creates nothing.
    public func signingSince() throws(LedgerError) -> Int64? {
        try loadContents(path)?.signingSince
    }

    /// Loads the key at ``path``; a missing file is an error.
    public func load() throws(LedgerError) -> SigningIdentity {
        guard let identity = try loadIfPresent(path) else {
            throw LedgerError(.io, "there is no key file at \(path); create one with loadOrCreate or restore it from backup")
        }
        return identity
    }

    /// Writes a new key to ``pendingRotationPath`` (or returns the one already there) without
    /// touching the current key.
    public func prepareRotation(createdAt: Int64) throws(LedgerError) -> SigningIdentity {
        if let pending = try loadIfPresent(pendingRotationPath) { return pending }
        let next = SigningIdentity.generate(createdAt: createdAt)
        // The next key is made to sign this ledger: it is recorded as signing from its creation.
        if try create(pendingRotationPath, with: next, signingSince: createdAt) { return next }
        guard let winner = try loadIfPresent(pendingRotationPath) else {
            throw LedgerError(.io, "the pending key \(pendingRotationPath) vanished while it was being created; retry")
        }
        return winner
    }

    /// Replaces the current key with the prepared one (an atomic rename) and returns it.
    ///
    /// Call it only after the rotation event, signed by the current key, is durably stamped.
    public func commitRotation() throws(LedgerError) -> SigningIdentity {
        guard let next = try loadIfPresent(pendingRotationPath) else {
            throw LedgerError(.io, "there is no prepared rotation at \(pendingRotationPath); call prepareRotation first")
        }
        guard rename(pendingRotationPath, path) == 0 else {
            throw Self.posixFailure("could not move \(pendingRotationPath) to \(path)")
        }
        Self.syncDirectory(of: path)
        return next
    }

    /// Deletes a prepared rotation that will not be committed.
    public func discardRotation() throws(LedgerError) {
        if unlink(pendingRotationPath) != 0, errno != ENOENT {
            throw Self.posixFailure("could not delete \(pendingRotationPath)")
        }
    }

    // MARK: reading

    func loadIfPresent(_ file: String) throws(LedgerError) -> SigningIdentity? {
        try loadContents(file)?.identity
    }

    /// What a key file holds: the key, and since when it signs a ledger.
    struct Contents {
        var identity: SigningIdentity
        var signingSince: Int64?
    }

    func loadContents(_ file: String) throws(LedgerError) -> Contents? {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw Self.posixFailure("could not open the key file \(file)")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.posixFailure("could not stat the key file \(file)") }
        guard status.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else {
            throw LedgerError(.io, "the key file \(file) is not a regular file")
        }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw LedgerError(
                .insecureKeyFile,
                "the key file \(file) has mode \(String(permissions, radix: 8)), which lets group or others read or write it; "
                    + "run `chmod 600 \(file)` (and rotate the key if someone else may have read it)"
            )
        }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.posixFailure("could not read the key file \(file)")
            }
            if count == 0 { break }
            contents += chunk[0..<count]
            guard contents.count <= 64 * 1024 else {
                throw LedgerError(.invalidKey, "the key file \(file) is larger than any key file Keel writes; check the path")
            }
        }
        return try decode(contents, file: file)
    }

    func decode(_ contents: [UInt8], file: String) throws(LedgerError) -> Contents {
        let problem = "the key file \(file) is not a Keel key file"
        let value: JSONValue
        do {
            value = try JSONValue.parse(contents)
        } catch {
            throw LedgerError(.invalidKey, "\(problem): \(error.message); restore it from backup", cause: error)
        }
        guard case .string(let algorithm)? = value["algorithm"], algorithm == "Ed25519" else {
            throw LedgerError(.invalidKey, "\(problem): its \"algorithm\" is not \"Ed25519\"")
        }
        guard case .string(let encoded)? = value["private_key"], let raw = decodeBase64(encoded) else {
            throw LedgerError(.invalidKey, "\(problem): its \"private_key\" is missing or not base64")
        }
        guard case .integer(let createdAt)? = value["created_at"] else {
            throw LedgerError(.invalidKey, "\(problem): its \"created_at\" is missing or not an integer")
        }
        var signingSince: Int64?
        switch value["signing_since"] {
        case nil: signingSince = nil
        case .integer(let since)?: signingSince = since
        default: throw LedgerError(.invalidKey, "\(problem): its \"signing_since\" is not an integer")
        }
        return Contents(identity: try SigningIdentity(privateKeyRawRepresentation: raw, createdAt: createdAt), signingSince: signingSince)
    }

    // MARK: writing

    /// Writes `identity` to `file` if no file is there; returns false if one already is.
    func create(_ file: String, with identity: SigningIdentity, signingSince: Int64? = nil) throws(LedgerError) -> Bool {
        try Self.createExclusively(file, contents: try encode(identity, signingSince: signingSince), mode: 0o600)
    }

    /// Writes `contents` to `file` with `mode` if no file is there (creating its directory, mode
    /// 0700); returns false if one already is. Written in full under a private name, then linked
    /// into place: link(2) fails if the target exists, so a concurrent creator can't be overwritten
    /// and no reader ever sees a partial file.
    static func createExclusively(_ file: String, contents: [UInt8], mode: mode_t) throws(LedgerError) -> Bool {
        let directory = (file as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory,
                    withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw LedgerError(.io, "could not create the directory \(directory) for \(file)", cause: error)
            }
        }
        let temporary = "\(file).tmp-\(UUID().uuidString.lowercased())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Self.posixFailure("could not create \(temporary)") }
        defer { unlink(temporary) }
        do {
            defer { close(descriptor) }
            _ = fchmod(descriptor, mode)  // umask may have removed the owner's read bit
            try Self.writeAll(contents, to: descriptor, named: temporary)
        }
        if link(temporary, file) != 0 {
            if errno == EEXIST { return false }
            guard errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP else {
                throw Self.posixFailure("could not put \(file) in place")
            }
            // A file system without hard links: create the file itself, still exclusively.
            return try createDirectly(file, contents: contents, mode: mode)
        }
        Self.syncDirectory(of: file)
        return true
    }

    /// The file's bytes: canonical JSON and a newline.
    func encode(_ identity: SigningIdentity, signingSince: Int64?) throws(LedgerError) -> [UInt8] {
        var document: JSONObject = [
            "version": "AISS-1.0",
            "algorithm": "Ed25519",
            "created_at": .integer(identity.createdAt),
            "private_key": .string(Data(identity.privateKeyRawRepresentation).base64EncodedString()),
        ]
        if let signingSince { document["signing_since"] = .integer(signingSince) }
        var contents = try CanonicalJSON.encode(.object(document))
        contents.append(0x0A)
        return contents
    }

    /// Rewrites the key file at ``path`` with `signing_since`: the same key, written in full under
    /// a private 0600 name and renamed over the old file, so a reader sees the old file or the new
    /// one and the key is never lost. Nothing is written if the file no longer holds this key (a
    /// rotation committed meanwhile).
    func recordSigning(_ identity: SigningIdentity, since: Int64) throws(LedgerError) {
        let contents = try encode(identity, signingSince: since)
        let temporary = "\(path).tmp-\(UUID().uuidString.lowercased())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o600))
        guard descriptor >= 0 else { throw Self.posixFailure("could not create \(temporary)") }
        defer { unlink(temporary) }
        do {
            defer { close(descriptor) }
            _ = fchmod(descriptor, mode_t(0o600))
            try Self.writeAll(contents, to: descriptor, named: temporary)
        }
        guard let current = try loadContents(path), current.identity.privateKeyRawRepresentation == identity.privateKeyRawRepresentation,
            current.signingSince == nil
        else { return }
        guard rename(temporary, path) == 0 else { throw Self.posixFailure("could not record in \(path) that the key signs") }
        Self.syncDirectory(of: path)
    }

    static func createDirectly(_ file: String, contents: [UInt8], mode: mode_t) throws(LedgerError) -> Bool {
        let descriptor = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if descriptor < 0 {
            if errno == EEXIST { return false }
            throw Self.posixFailure("could not create the key file \(file)")
        }
        defer { close(descriptor) }
        _ = fchmod(descriptor, mode)
        try Self.writeAll(contents, to: descriptor, named: file)
        Self.syncDirectory(of: file)
        return true
    }

    static func writeAll(_ contents: [UInt8], to descriptor: Int32, named file: String) throws(LedgerError) {
        var written = 0
        while written < contents.count {
            let count = contents[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.posixFailure("could not write \(file)")
            }
            written += count
        }
        guard fsync(descriptor) == 0 else { throw Self.posixFailure("could not flush \(file) to disk") }
    }

    /// Makes a new directory entry durable (best effort: some file systems refuse).
    static func syncDirectory(of file: String) {
        let directory = (file as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    static func posixFailure(_ what: String) -> LedgerError {
        let code = errno
        return LedgerError(.io, "\(what): \(String(cString: strerror(code)))", cause: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
    }
}
