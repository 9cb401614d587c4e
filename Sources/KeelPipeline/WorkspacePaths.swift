import Foundation

/// Where one item's worker clone and the agent's task files live. Each item has its own clone,
/// never a shared `.git`; the task files sit beside the clone so they are never committed.
struct WorkspacePaths {
    let itemRoot: String
    let clone: String
    let meta: String
    let branch: String

    init(root: String, itemID: Int64) {
        itemRoot = "\(root)/item-\(itemID)"
        clone = itemRoot + "/repo"
        meta = itemRoot + "/keel"
        branch = "keel/item-\(itemID)"
    }

    var taskFile: String { meta + "/task.md" }
    var historyFile: String { meta + "/history.md" }
    var promptFile: String { meta + "/prompt.md" }
    /// Where the developer may list what it addressed (`KEEL_CLAIMS_FILE`), checked against the clone.
    var claimsFile: String { meta + "/claims.json" }
    /// The manifest (path + SHA-256) of the files the last attempt changed.
    var manifestFile: String { meta + "/manifest.txt" }
    /// The reviewer's own clone of the pushed branch: it reads, it never writes the developer's.
    var reviewClone: String { itemRoot + "/review" }
    var reviewPromptFile: String { meta + "/review-prompt.md" }
    var diffFile: String { meta + "/change.diff" }

    func createMeta() throws {
        try FileManager.default.createDirectory(atPath: meta, withIntermediateDirectories: true)
    }

    func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    func removeClone() {
        try? FileManager.default.removeItem(atPath: clone)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: itemRoot)
    }
}
