import Foundation
import KeelCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file the ``TokenBroker`` loads its ``Credential`` from and writes every refresh back to:
/// atomically (a reader never sees half a file) and with mode 0600.
///
/// Two layouts are understood:
///
/// - ``Layout/claudeCode``: Claude Code's `~/.claude/.credentials.json`, where the credential
///   sits in a `claudeAiOauth` object with `expiresAt` in milliseconds since the epoch:
///   ```json
///   {"claudeAiOauth": {"accessToken": "sk-ant-oat01-…", "refreshToken": "sk-ant-ort01-…",
///     "expiresAt": 1748276587173, "scopes": ["user:inference", "user:profile"], "subscriptionType": "max"}}
///   ```
/// - ``Layout/oauth``: a generic file named after the OAuth 2.0 token response fields, with
///   `expires_at` in seconds since the epoch:
///   ```json
///   {"access_token": "…", "refresh_token": "…", "expires_at": 1790003600}
///   ```
///
/// Saving keeps every other key of the file as it was (`scopes`, `subscriptionType`, other
/// top-level entries) and changes only the token fields.
///
/// Give the broker its own copy of the credential (not the file a logged-in `claude` uses on the
/// same account): the broker must be the only party that refreshes it.
public struct CredentialsFile: Sendable {
    /// How the credential is laid out in the file.
    public enum Layout: String, Sendable, CaseIterable {
        /// `{"claudeAiOauth": {"accessToken", "refreshToken", "expiresAt" (ms)}}`.
        case claudeCode = "claude-code"
        /// `{"access_token", "refresh_token", "expires_at" (s)}`.
        case oauth
    }

    /// The file's path.
    public var path: String
    /// Its layout.
    public var layout: Layout

    /// Names a credentials file.
    public init(path: String, layout: Layout = .claudeCode) {
        self.path = path
        self.layout = layout
    }

    /// Reads the credential.
    public func load() throws(TokenError) -> Credential {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let missing = !FileManager.default.fileExists(atPath: path)
            throw TokenError(
                code: .credentialsFile,
                message: missing
                    ? "no credentials file at \(path): log in (for Claude Code: `claude /login`) and copy its credentials there, "
                        + "readable only by the user Keel runs as"
                    : "could not read the credentials file \(path); check its owner and permissions",
                errorClass: .permanent,
                cause: missing ? nil : error
            )
        }
        // The contents are never put in an error: they are the tokens.
        guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw malformed("is not a JSON object")
        }
        switch layout {
        case .claudeCode:
            guard let oauth = document["claudeAiOauth"] as? [String: Any] else {
                throw malformed("has no \"claudeAiOauth\" object (is it Claude Code's .credentials.json?)")
            }
            return try credential(in: oauth, access: "accessToken", refresh: "refreshToken", expiry: "expiresAt", unitsPerSecond: 1000)
        case .oauth:
            return try credential(in: document, access: "access_token", refresh: "refresh_token", expiry: "expires_at", unitsPerSecond: 1)
        }
    }

    /// Writes `credential` into the file, keeping the file's other keys, atomically and mode 0600.
    public func save(_ credential: Credential) throws(TokenError) {
        var document: [String: Any] = [:]
        if let data = try? Data(contentsOf: URL(fileURLWithPath: path)),
            let existing = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            document = existing
        }
        switch layout {
        case .claudeCode:
            var oauth = document["claudeAiOauth"] as? [String: Any] ?? [:]
            oauth["accessToken"] = credential.accessToken
            oauth["refreshToken"] = credential.refreshToken
            oauth["expiresAt"] = Int64((credential.expiresAt.timeIntervalSince1970 * 1000).rounded(.down))
            document["claudeAiOauth"] = oauth
        case .oauth:
            document["access_token"] = credential.accessToken
            document["refresh_token"] = credential.refreshToken
            document["expires_at"] = Int64(credential.expiresAt.timeIntervalSince1970.rounded(.down))
        }
        let contents: Data
        do {
            contents = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw TokenError(
                code: .credentialsFile, message: "could not encode the credentials for \(path)", errorClass: .permanent)
        }
        try writeAtomically(Array(contents) + [0x0A])
    }

    // MARK: - Reading

    private func credential(
        in object: [String: Any], access: String, refresh: String, expiry: String, unitsPerSecond: Double
    ) throws(TokenError) -> Credential {
        guard let accessToken = object[access] as? String, !accessToken.isEmpty else {
            throw malformed("has no \"\(access)\" string")
        }
        guard let refreshToken = object[refresh] as? String, !refreshToken.isEmpty else {
            throw malformed(
                "has no \"\(refresh)\": the broker must hold the refresh token (a borrowed credential without one cannot be renewed)")
        }
        guard let expiresAt = Self.number(object[expiry]) else {
            throw malformed("has no numeric \"\(expiry)\"")
        }
        return Credential(
            accessToken: accessToken, refreshToken: refreshToken,
            expiresAt: Date(timeIntervalSince1970: expiresAt / unitsPerSecond))
    }

    private static func number(_ value: Any?) -> Double? {
        switch value {
        case let number as Int: Double(number)
        case let number as Int64: Double(number)
        case let number as Double: number
        case let number as NSNumber: number.doubleValue
        case let text as String: Double(text)
        default: nil
        }
    }

    private func malformed(_ problem: String) -> TokenError {
        TokenError(
            code: .credentialsFile,
            message: "the credentials file \(path) \(problem); expected the \(layout.rawValue) layout",
            errorClass: .permanent
        )
    }

    // MARK: - Writing

    /// Writes the whole file under a private name, then renames it over the old one, so a reader
    /// (or a crash) never leaves half a credential.
    private func writeAtomically(_ contents: [UInt8]) throws(TokenError) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).tmp-\(UUID().uuidString.lowercased())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o600))
        guard descriptor >= 0 else { throw posixFailure("could not create \(temporary) next to the credentials file") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }
        do {
            defer { close(descriptor) }
            _ = fchmod(descriptor, mode_t(0o600))  // the umask may have taken bits the owner needs
            var written = 0
            while written < contents.count {
                let count = contents[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw posixFailure("could not write \(temporary)")
                }
                written += count
            }
            guard fsync(descriptor) == 0 else { throw posixFailure("could not flush \(temporary) to disk") }
        }
        guard rename(temporary, path) == 0 else { throw posixFailure("could not replace the credentials file \(path)") }
        renamed = true
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)  // best effort: make the rename durable
            close(directoryDescriptor)
        }
    }

    private func posixFailure(_ what: String) -> TokenError {
        let code = errno
        return TokenError(
            code: .credentialsFile,
            message: "\(what): \(String(cString: strerror(code))); check that the directory exists and is writable by Keel",
            errorClass: .permanent,
            cause: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        )
    }
}
