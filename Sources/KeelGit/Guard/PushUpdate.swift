/// One ref a `git push` is about to update, as git's pre-push hook protocol describes it on the
/// hook's standard input: `<local ref> <local oid> <remote ref> <remote oid>`.
///
/// ```swift
/// let input = PrePushInput(parsing: "refs/heads/feature 3f2a… refs/heads/feature 0000…\n")
/// for update in input.updates where update.createsRef { print("new branch", update.remoteRef) }
/// ```
public struct PushUpdate: Sendable, Hashable {
    /// The local ref being pushed (`refs/heads/feature`, `HEAD`, or `(delete)` for a deletion).
    public var localRef: String
    /// The commit (or tag object) being pushed; all zeros for a deletion.
    public var localOID: String
    /// The ref on the remote that would be updated, e.g. `refs/heads/feature`.
    public var remoteRef: String
    /// What the remote's ref holds now; all zeros when the push creates it.
    public var remoteOID: String

    /// Creates an update; oids are full hexadecimal object names (40 or 64 digits).
    public init(localRef: String, localOID: String, remoteRef: String, remoteOID: String) {
        self.localRef = localRef
        self.localOID = localOID
        self.remoteRef = remoteRef
        self.remoteOID = remoteOID
    }

    /// Whether the push deletes ``remoteRef`` (nothing is brought to the remote).
    public var deletesRef: Bool { Self.isZero(localOID) }

    /// Whether the remote has no ``remoteRef`` yet: a new branch or tag.
    public var createsRef: Bool { Self.isZero(remoteOID) }

    /// The branch name when ``remoteRef`` is a branch (`refs/heads/<name>`), else `nil`.
    public var remoteBranch: String? {
        remoteRef.hasPrefix("refs/heads/") ? String(remoteRef.dropFirst("refs/heads/".count)) : nil
    }

    static func isZero(_ oid: String) -> Bool {
        !oid.isEmpty && oid.allSatisfy { $0 == "0" }
    }

    static func isObjectName(_ text: Substring) -> Bool {
        (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit)
    }
}

/// What git wrote on a pre-push hook's standard input: the updates it could read, and the
/// lines it could not (which the guard reports as a warning, never as a refusal).
public struct PrePushInput: Sendable, Equatable {
    /// The well-formed lines, in order.
    public var updates: [PushUpdate]
    /// Lines that are not `<ref> <oid> <ref> <oid>`, verbatim (blank lines are ignored).
    public var malformedLines: [String]

    /// Reads the hook's standard input.
    public init(parsing text: String) {
        var updates: [PushUpdate] = []
        var malformed: [String] = []
        // Split on scalars: "\r\n" is a single Character, and a stray CR is not a separator.
        for rawLine in text.gitLines() {
            // Fields are split on scalars too, so a CR before the newline is just a separator.
            let fields = rawLine.unicodeScalars.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map { Substring($0) }
            if fields.isEmpty { continue }
            let line = String(rawLine)
            guard fields.count == 4, PushUpdate.isObjectName(fields[1]), PushUpdate.isObjectName(fields[3]) else {
                malformed.append(line)
                continue
            }
            updates.append(
                PushUpdate(
                    localRef: String(fields[0]),
                    localOID: fields[1].lowercased(),
                    remoteRef: String(fields[2]),
                    remoteOID: fields[3].lowercased()
                )
            )
        }
        self.updates = updates
        self.malformedLines = malformed
    }
}
