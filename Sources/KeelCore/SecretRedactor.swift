/// The one redactor for every text Keel stores, stamps, alerts, logs, serves or writes to a
/// transcript: known secret values, and well-known credential shapes, each replaced by
/// `[REDACTED]`.
///
/// Known values are the values of the variables `keel.yml` names as secrets, the agent's
/// secret-looking variables (``looksSecret(variableName:)``), lent tokens and outbound clients'
/// URLs. Shapes are found whatever their source: GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`,
/// `github_pat_`), Anthropic (`sk-ant-`), OpenAI (`sk-`), AWS access key ids (`AKIA`...), Slack
/// (`xox?-`), PEM private-key blocks and JWTs. The shapes are those of gitleaks' rules, with
/// concrete minimum lengths, so that hashes, git shas and words such as `sk-learn` stay as they are.
///
/// ```swift
/// let redactor = SecretRedactor(secrets: [smtpPassword])
/// redactor("token ghp_0123456789abcdefghijABCDEFGHIJ012345 and \(smtpPassword)")
/// // "token [REDACTED] and [REDACTED]"
/// ```
public struct SecretRedactor: Sendable {
    /// What stands in for a secret.
    public static let marker = "[REDACTED]"
    /// A known value shorter than this is no secret (a URL path like `/`, a flag like `true`) and
    /// replacing it would garble every text.
    public static let minimumSecretLength = 6

    private static let markerBytes = Array(marker.utf8)
    private let secrets: [[UInt8]]

    /// A redactor for `secrets` (values shorter than ``minimumSecretLength`` are ignored) and
    /// every credential shape.
    public init(secrets: some Sequence<String> = [String]()) {
        // Longest first, so that a secret containing another is redacted whole.
        self.secrets = Set(secrets.filter { $0.count >= Self.minimumSecretLength }).map { Array($0.utf8) }
            .sorted { $0.count > $1.count }
    }

    /// This redactor with `more` secrets.
    public func adding(_ more: some Sequence<String>) -> SecretRedactor {
        SecretRedactor(secrets: secrets.map { String(decoding: $0, as: UTF8.self) } + Array(more))
    }

    /// Whether an environment variable's name says its value is a secret (`*TOKEN*`, `*KEY*`,
    /// `*SECRET*`, `*PASSWORD*`, `*PASSWD*`, case-insensitive).
    public static func looksSecret(variableName name: String) -> Bool {
        let upper = name.uppercased()
        return ["TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD"].contains { upper.contains($0) }
    }

    /// `text` with every secret replaced by ``marker``.
    public func callAsFunction(_ text: String) -> String {
        redact(text)
    }

    /// `text` with every secret replaced by ``marker``.
    public func redact(_ text: String) -> String {
        var unterminated = false
        let bytes = Array(text.utf8)
        let redacted = redact(bytes, unterminatedKey: &unterminated)
        return redacted == bytes ? text : String(decoding: redacted, as: UTF8.self)
    }

    /// `bytes` with every secret replaced by ``marker``; every other byte is kept as it is, even
    /// when the text is not valid UTF-8.
    public func redact(_ bytes: [UInt8]) -> [UInt8] {
        var unterminated = false
        return redact(bytes, unterminatedKey: &unterminated)
    }

    /// One line of a stream. A PEM private key printed over several lines spans calls:
    /// `insidePrivateKey` carries that across them, and every line of the block is redacted.
    public func redactLine(_ line: [UInt8], insidePrivateKey: inout Bool) -> [UInt8] {
        var line = line
        var prefix: [UInt8] = []
        if insidePrivateKey {
            guard let end = CredentialShapes.privateKeyEnd(in: line, from: 0) else { return Self.markerBytes }
            insidePrivateKey = false
            prefix = Self.markerBytes
            line = Array(line[end...])
        }
        var unterminated = false
        let redacted = redact(line, unterminatedKey: &unterminated)
        insidePrivateKey = unterminated
        return prefix + redacted
    }

    /// The error itself when none of its texts holds a secret, else a ``RedactedError`` with its
    /// redacted description.
    public func scrub(_ error: any Error) -> any Error {
        let description = String(describing: error)
        let reflection = String(reflecting: error)
        guard redact(description) != description || redact(reflection) != reflection else { return error }
        return RedactedError(description: redact(description))
    }

    private func redact(_ bytes: [UInt8], unterminatedKey: inout Bool) -> [UInt8] {
        var result = bytes
        for secret in secrets where result.count >= secret.count {
            guard result.firstRange(of: secret) != nil else { continue }
            result = result.replacing(secret, with: Self.markerBytes)
        }
        return CredentialShapes.redact(result, marker: Self.markerBytes, unterminatedKey: &unterminatedKey)
    }
}

/// The text of an error whose description held a secret; it stands in for the original as a cause.
public struct RedactedError: Error, Sendable, CustomStringConvertible {
    /// The redacted description of the original error.
    public let description: String

    /// Wraps an already redacted description.
    public init(description: String) {
        self.description = description
    }
}

/// Finds well-known credential shapes in bytes, in one pass.
enum CredentialShapes {
    /// GitHub tokens are 36 alphanumerics after their prefix (gitleaks `github-pat` and friends).
    static let githubTokenLength = 36
    /// Fine-grained GitHub tokens carry 82 word characters after `github_pat_`.
    static let githubFineGrainedLength = 82
    /// OpenAI and Anthropic keys carry far more than this after `sk-`; a shorter run is a word.
    static let skKeyMinimumLength = 32
    /// Slack tokens carry at least this many characters after `xox?-`.
    static let slackMinimumLength = 10
    /// Each of a JWT's header and payload is at least this long after its `eyJ`.
    static let jwtSegmentMinimumLength = 10

    static func redact(_ bytes: [UInt8], marker: [UInt8], unterminatedKey: inout Bool) -> [UInt8] {
        var out: [UInt8] = []
        var copiedUpTo = 0
        var index = 0
        unterminatedKey = false
        while index < bytes.count {
            let startsWord = startsWord(bytes, at: index)
            if let end = match(bytes, at: index, startsWord: startsWord, unterminatedKey: &unterminatedKey) {
                if out.isEmpty { out.reserveCapacity(bytes.count) }
                out.append(contentsOf: bytes[copiedUpTo..<index])
                out.append(contentsOf: marker)
                copiedUpTo = end
                index = end
            } else {
                index += 1
            }
        }
        if copiedUpTo == 0 { return bytes }
        out.append(contentsOf: bytes[copiedUpTo...])
        return out
    }

    /// Whether `index` starts a word: after a non-word byte, or after a JSON escape such as `\n`
    /// (agents print their results as JSON strings).
    private static func startsWord(_ b: [UInt8], at i: Int) -> Bool {
        guard i > 0 else { return true }
        if !isWord(b[i - 1]) { return true }
        return i >= 2 && b[i - 2] == UInt8(ascii: "\\") && "ntr".utf8.contains(b[i - 1])
    }

    /// The end of the credential starting at `index`, if one does.
    private static func match(_ b: [UInt8], at i: Int, startsWord: Bool, unterminatedKey: inout Bool) -> Int? {
        switch b[i] {
        case UInt8(ascii: "-"):
            return privateKey(b, at: i, unterminated: &unterminatedKey)
        case UInt8(ascii: "g") where startsWord:
            if has(b, "github_pat_", at: i) {
                return run(b, from: i + 11, minimum: githubFineGrainedLength, isWord)
            }
            if has(b, "gh", at: i), i + 3 < b.count, "pousr".utf8.contains(b[i + 2]), b[i + 3] == UInt8(ascii: "_") {
                return run(b, from: i + 4, minimum: githubTokenLength, isAlphanumeric)
            }
            return nil
        case UInt8(ascii: "s") where startsWord:
            guard has(b, "sk-", at: i), let end = run(b, from: i + 3, minimum: skKeyMinimumLength, isKeyCharacter) else { return nil }
            // A random key mixes cases and digits; a long hyphenated name (a branch) does not.
            let body = b[(i + 3)..<end]
            guard body.contains(where: isDigit), body.contains(where: isUpper), body.contains(where: isLower) else { return nil }
            return end
        case UInt8(ascii: "A") where startsWord:
            guard ["AKIA", "ASIA", "ABIA", "ACCA"].contains(where: { has(b, $0, at: i) }) else { return nil }
            let end = i + 20
            guard end <= b.count, b[(i + 4)..<end].allSatisfy({ isUpper($0) || isDigit($0) }) else { return nil }
            return end == b.count || !isAlphanumeric(b[end]) ? end : nil
        case UInt8(ascii: "x") where startsWord:
            guard has(b, "xox", at: i), i + 4 < b.count, "abprso".utf8.contains(b[i + 3]), b[i + 4] == UInt8(ascii: "-") else { return nil }
            return run(b, from: i + 5, minimum: slackMinimumLength) { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        case UInt8(ascii: "e") where startsWord:
            return jwt(b, at: i)
        default:
            return nil
        }
    }

    /// `header.payload.signature`, each base64url, the first two JSON objects (`eyJ`); the
    /// signature may be empty (an unsigned token still carries its claims).
    private static func jwt(_ b: [UInt8], at i: Int) -> Int? {
        guard has(b, "eyJ", at: i), let header = run(b, from: i + 3, minimum: jwtSegmentMinimumLength, isKeyCharacter),
            header < b.count, b[header] == UInt8(ascii: "."), has(b, "eyJ", at: header + 1),
            let payload = run(b, from: header + 4, minimum: jwtSegmentMinimumLength, isKeyCharacter),
            payload < b.count, b[payload] == UInt8(ascii: ".")
        else { return nil }
        return run(b, from: payload + 1, minimum: 0, isKeyCharacter).map { end in
            // Base64 padding, which some encoders leave on.
            var end = end
            while end < b.count, b[end] == UInt8(ascii: "=") { end += 1 }
            return end
        }
    }

    /// `-----BEGIN ... PRIVATE KEY-----` through its `-----END ...-----` line. Without an end in
    /// the text, everything after the header goes; `unterminated` is set when the header ends the
    /// text (a block printed line by line continues on the next lines).
    private static func privateKey(_ b: [UInt8], at i: Int, unterminated: inout Bool) -> Int? {
        guard has(b, "-----BEGIN ", at: i) else { return nil }
        var j = i + 11
        // The label: upper-case words ("RSA", "OPENSSH", "ENCRYPTED"), at most a line's worth.
        while j < b.count, j - i < 80, isUpper(b[j]) || b[j] == UInt8(ascii: " ") { j += 1 }
        guard j - i >= 22, has(b, "PRIVATE KEY-----", at: j - 11) else { return nil }
        let headerEnd = j + 5
        if let end = privateKeyEnd(in: b, from: headerEnd) { return end }
        unterminated = b[headerEnd...].allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t") }
        return b.count
    }

    /// Just past the `-----END ... PRIVATE KEY-----` at or after `start`, if any.
    static func privateKeyEnd(in b: [UInt8], from start: Int) -> Int? {
        let end = Array("-----END ".utf8)
        let tail = Array("PRIVATE KEY-----".utf8)
        guard start < b.count, let found = b[start...].firstRange(of: end) else { return nil }
        guard let close = b[found.upperBound...].firstRange(of: tail) else { return b.count }
        return close.upperBound
    }

    private static func has(_ b: [UInt8], _ prefix: String, at i: Int) -> Bool {
        var j = i
        for byte in prefix.utf8 {
            guard j < b.count, b[j] == byte else { return false }
            j += 1
        }
        return true
    }

    /// The end of the run of `accepted` bytes from `start`, when it is at least `minimum` long.
    private static func run(_ b: [UInt8], from start: Int, minimum: Int, _ accepted: (UInt8) -> Bool) -> Int? {
        var end = start
        while end < b.count, accepted(b[end]) { end += 1 }
        return end - start >= minimum ? end : nil
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
    private static func isUpper(_ c: UInt8) -> Bool { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") }
    private static func isLower(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
    private static func isAlphanumeric(_ c: UInt8) -> Bool { isDigit(c) || isUpper(c) || isLower(c) }
    private static func isWord(_ c: UInt8) -> Bool { isAlphanumeric(c) || c == UInt8(ascii: "_") }
    /// Base64url, which is also what API keys are made of.
    private static func isKeyCharacter(_ c: UInt8) -> Bool { isWord(c) || c == UInt8(ascii: "-") }
}
