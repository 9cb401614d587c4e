/// The bytes a person's decision on a chain break covers: the stored event at the break's
/// position, exactly as it was found (its stored hash and its text).
///
/// A decision is made on what was seen. Any later change to that event, even one that breaks it
/// in the same way, gives another digest: a new break to record, stamp, alert and decide.
///
/// ```swift
/// let evidence = BreakEvidence.digest(storedHash: row.hash, text: row.event)
/// ```
public enum BreakEvidence {
    /// SHA-256 (lowercase hex) of the stored hash, a newline, and the event text's UTF-8 bytes.
    /// The stored hash is hex and so holds no newline: the two parts cannot run into each other.
    public static func digest(storedHash: String, text: String) -> String {
        sha256Hex(Array(storedHash.utf8) + [0x0A] + Array(text.utf8))
    }
}
