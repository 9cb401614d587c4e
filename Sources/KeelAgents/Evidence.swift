import Foundation
import Crypto

/// Path → SHA-256 of the files a run changed, taken from the clone after the run: what is
/// actually on disk, against which an agent's claims are checked.
public struct FileManifest: Sendable, Equatable, Codable {
    /// Relative path → lowercase hex SHA-256 of the file's bytes; a changed path that no longer
    /// exists (deleted) maps to nil.
    public var files: [String: String?]

    public init(files: [String: String?]) {
        self.files = files
    }

    /// Hashes `paths` (relative to `directory`) as they are on disk now.
    public static func take(of paths: [String], in directory: String) -> FileManifest {
        var files: [String: String?] = [:]
        for path in paths {
            files[path] = sha256(ofFile: directory + "/" + path)
        }
        return FileManifest(files: files)
    }

    /// The lowercase hex SHA-256 of a file's bytes, or nil when it cannot be read.
    public static func sha256(ofFile path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// `path  sha256` lines, sorted, for people (deleted files show `(deleted)`).
    public var text: String {
        files.keys.sorted().map { "\($0)  \((files[$0] ?? nil) ?? "(deleted)")" }.joined(separator: "\n")
    }
}

/// An agent's claim that it addressed something by changing a file, optionally with the file's
/// SHA-256 or a snippet the file now contains.
public struct EvidenceClaim: Sendable, Equatable {
    /// What was addressed (a review item's text), when the agent said.
    public var item: String?
    public var path: String
    public var sha256: String?
    public var contains: String?

    public init(item: String? = nil, path: String, sha256: String? = nil, contains: String? = nil) {
        self.item = item
        self.path = path
        self.sha256 = sha256
        self.contains = contains
    }

    /// The claims in an agent's claims file or final message: a JSON object
    /// `{"addressed": [{"item": "...", "files": ["path" | {"path", "sha256"?, "contains"?}]}]}`
    /// (the last such object in `text`). Nil when there is none; an empty list when it claims nothing.
    public static func parse(_ text: String) -> [EvidenceClaim]? {
        guard let object = JSONObjects.last(in: text, withKey: "addressed"), let addressed = object["addressed"] as? [Any] else {
            return nil
        }
        var claims: [EvidenceClaim] = []
        for entry in addressed {
            guard let entry = entry as? [String: Any] else { continue }
            let item = (entry["item"] as? String) ?? (entry["item"] as? NSNumber).map { "\($0)" }
            var files = entry["files"] as? [Any] ?? []
            if let single = entry["file"] ?? entry["path"] { files.append(single) }
            for file in files {
                if let path = file as? String {
                    claims.append(EvidenceClaim(item: item, path: path))
                } else if let file = file as? [String: Any], let path = file["path"] as? String {
                    claims.append(
                        EvidenceClaim(item: item, path: path, sha256: (file["sha256"] as? String)?.lowercased(), contains: file["contains"] as? String))
                }
            }
        }
        return claims
    }

    /// Why this claim does not hold against `manifest` (the files the run changed, hashed) and
    /// the clone at `directory`; nil when it holds.
    public func rejection(against manifest: FileManifest, in directory: String) -> String? {
        let about = item.map { " (for \"\($0)\")" } ?? ""
        // Agents often report absolute paths: one inside the clone is taken relative to it.
        var normalized = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        if normalized.hasPrefix("/") {
            let absolute = URL(fileURLWithPath: normalized).standardizedFileURL.path
            guard absolute.hasPrefix(root + "/") else { return "\(path)\(about) is outside the clone" }
            normalized = String(absolute.dropFirst(root.count + 1))
        } else if URL(fileURLWithPath: normalized, relativeTo: URL(fileURLWithPath: root + "/")).standardizedFileURL.path.hasPrefix(root + "/") == false {
            return "\(path)\(about) is outside the clone"
        }
        let onDisk = FileManifest.sha256(ofFile: directory + "/" + normalized)
        guard let onDisk else {
            return "\(path)\(about) does not exist in the clone"
        }
        guard manifest.files.keys.contains(normalized) else {
            return "\(path)\(about) was not changed by this attempt"
        }
        if let sha256, sha256 != onDisk {
            return "\(path)\(about): the claimed SHA-256 \(sha256.prefix(12))… is not the file's (\(onDisk.prefix(12))…)"
        }
        if let contains, !contains.isEmpty {
            let text = (try? String(contentsOfFile: directory + "/" + normalized, encoding: .utf8)) ?? ""
            if !text.contains(contains) {
                return "\(path)\(about) does not contain the quoted text \"\(contains.prefix(60))\""
            }
        }
        return nil
    }
}

/// Finds JSON objects inside free text (an agent's final message): fenced or bare.
enum JSONObjects {
    /// The last top-level JSON object in `text` that has `key`.
    static func last(in text: String, withKey key: String) -> [String: Any]? {
        let bytes = Array(text.utf8)
        var found: [String: Any]?
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "{"), let end = matchingBrace(bytes, from: index) else {
                index += 1
                continue
            }
            let candidate = Data(bytes[index...end])
            if let object = (try? JSONSerialization.jsonObject(with: candidate)) as? [String: Any] {
                if object[key] != nil { found = object }
                index = end + 1
            } else {
                index += 1
            }
        }
        return found
    }

    /// The index of the brace closing the object that opens at `start`, skipping strings.
    private static func matchingBrace(_ bytes: [UInt8], from start: Int) -> Int? {
        var depth = 0
        var inString = false
        var escaped = false
        for i in start..<bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"): depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { return i }
            default: break
            }
        }
        return nil
    }
}
