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
